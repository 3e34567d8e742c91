# The campaign's MySQL pipeline: a Genius-like table read in keyset order of
# (updated_at, id) from the saved cursor inclusive, DATETIME(6) in New York
# time; ordered, so the cursor is saved with every batch.
pipeline "faults_mysql" {
  system     = "faults"
  entity     = "contacts_mysql"
  batch_size = 500
  timezone   = "America/New_York"

  source "mysql" {
    dsn                = env("FAULTS_MYSQL_DSN")
    table              = "contact"
    key                = ["id"]
    incremental_column = "updated_at"
    page_size          = 500
    read_timeout       = "30s"

    retry {
      attempts = 10
      max_wait = "30s"
    }
  }

  incremental {
    cursor = "updated_at"
  }

  map {
    id         = "int(record.id)"
    name       = "record.name"
    score      = "int(record.score)"
    note       = "record.note"
    updated_at = "timestamp(record.updated_at)"
  }

  sink "warehouse" {
    url   = env("FAULTS_WAREHOUSE_URL")
    table = "faults_mysql"
    key   = ["id"]
  }
}
