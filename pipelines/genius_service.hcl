# Genius services (roofing, siding, windows…).
# Read straight from Genius's MySQL database (GENIUS_MYSQL_DSN).
# Incremental by updated_at, in keyset order; rows whose updated_at is NULL or a zero
# date are read by created_at instead, so none is lost (sources/mysql/README.md).
pipeline "genius_service" {
  system     = "genius"
  entity     = "service"
  batch_size = 5000
  timezone   = "UTC" # the zone Genius writes its DATETIME values in

  source "mysql" {
    connection = "genius"
    table      = "service"
    columns = [
      "id", "label", "is_active", "is_lead_required", "order_number", "created_at",
      "updated_at",
    ]
    key                = ["id"]
    incremental_column = "updated_at"
    fallback_column    = "created_at"
  }

  incremental { cursor = "updated_at ?? created_at" }

  map {
    id               = "int(record.id)"
    label            = "nullif(trim(record.label), '')"
    is_active        = "bool(record.is_active)"
    is_lead_required = "bool(record.is_lead_required)"
    order_number     = "int(record.order_number)"
    created_at       = "timestamp(record.created_at)"
    updated_at       = "timestamp(record.updated_at)"
  }

  sink "warehouse" {
    table = "genius.service"
    key   = ["id"]
  }
}
