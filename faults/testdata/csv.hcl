# The crash campaign's CSV pipeline: an unsorted export, incremental on
# updated_at, so the cursor is saved only once the whole file has landed.
pipeline "faults_csv" {
  system     = "faults"
  entity     = "contacts_csv"
  batch_size = 500

  source "csv" {
    path = env("FAULTS_CSV", "contacts.csv")
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
    table = "faults_csv"
    key   = ["id"]
  }
}
