# Genius appointment outcomes (sold, no sale, reset…).
# Read straight from Genius's MySQL database (GENIUS_MYSQL_DSN).
# Incremental by updated_at, in keyset order; rows whose updated_at is NULL or a zero
# date are read by created_at instead, so none is lost (sources/mysql/README.md).
pipeline "genius_appointment_outcome" {
  system     = "genius"
  entity     = "appointment_outcome"
  batch_size = 5000
  timezone   = "UTC" # the zone Genius writes its DATETIME values in

  source "mysql" {
    connection = "genius"
    table      = "appointment_outcome"
    columns = [
      "id", "type_id", "label", "is_active", "created_at", "updated_at",
    ]
    key                = ["id"]
    incremental_column = "updated_at"
    fallback_column    = "created_at"
  }

  incremental { cursor = "updated_at ?? created_at" }

  map {
    id         = "int(record.id)"
    type_id    = "int(record.type_id)"
    label      = "nullif(trim(record.label), '')"
    is_active  = "bool(record.is_active)"
    created_at = "timestamp(record.created_at)"
    updated_at = "timestamp(record.updated_at)"
  }

  sink "warehouse" {
    table = "genius.appointment_outcome"
    key   = ["id"]
  }
}
