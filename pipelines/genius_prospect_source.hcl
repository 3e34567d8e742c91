# Genius prospect sources: which marketing source brought a prospect, and when.
# Read straight from Genius's MySQL database (GENIUS_MYSQL_DSN).
# Incremental by updated_at, in keyset order; rows whose updated_at is NULL or a zero
# date are read by add_date instead, so none is lost (sources/mysql/README.md).
pipeline "genius_prospect_source" {
  system     = "genius"
  entity     = "prospect_source"
  batch_size = 5000
  timezone   = "UTC" # the zone Genius writes its DATETIME values in

  source "mysql" {
    connection = "genius"
    table      = "prospect_source"
    columns = [
      "id", "prospect_id", "marketing_source_id", "source_date", "notes", "add_user_id",
      "add_date", "updated_at", "source_user_id",
    ]
    key                = ["id"]
    incremental_column = "updated_at"
    fallback_column    = "add_date"
  }

  incremental { cursor = "updated_at ?? add_date" }

  map {
    id                  = "int(record.id)"
    prospect_id         = "int(record.prospect_id)"
    marketing_source_id = "int(record.marketing_source_id)"
    source_date         = "timestamp(record.source_date)"
    notes               = "nullif(record.notes, '')"
    add_user_id         = "int(record.add_user_id)"
    add_date            = "timestamp(record.add_date)"
    updated_at          = "timestamp(record.updated_at)"
    source_user_id      = "int(record.source_user_id)"
  }

  sink "warehouse" {
    table = "genius.prospect_source"
    key   = ["id"]
  }
}
