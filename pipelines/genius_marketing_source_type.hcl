# Genius marketing source types; list_order is Genius's display order.
# Read straight from Genius's MySQL database (GENIUS_MYSQL_DSN).
# Incremental by updated_at, in keyset order; rows whose updated_at is NULL or a zero
# date are read by created_at instead, so none is lost (sources/mysql/README.md).
pipeline "genius_marketing_source_type" {
  system     = "genius"
  entity     = "marketing_source_type"
  batch_size = 5000
  timezone   = "UTC" # the zone Genius writes its DATETIME values in

  source "mysql" {
    connection = "genius"
    table      = "marketing_source_type"
    columns = [
      "id", "label", "description", "is_active", "list_order", "created_at",
      "updated_at",
    ]
    key                = ["id"]
    incremental_column = "updated_at"
    fallback_column    = "created_at"
  }

  incremental { cursor = "updated_at ?? created_at" }

  map {
    id          = "int(record.id)"
    label       = "nullif(trim(record.label), '')"
    description = "nullif(trim(record.description), '')"
    is_active   = "bool(record.is_active)"
    list_order  = "int(record.list_order)"
    created_at  = "timestamp(record.created_at)"
    updated_at  = "timestamp(record.updated_at)"
  }

  sink "warehouse" {
    table = "genius.marketing_source_type"
    key   = ["id"]
  }
}
