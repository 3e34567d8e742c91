# Genius divisions (offices), each in a division group and a region.
# Read straight from Genius's MySQL database (GENIUS_MYSQL_DSN).
# Incremental by updated_at, in keyset order; rows whose updated_at is NULL or a zero
# date are read by created_at instead, so none is lost (sources/mysql/README.md).
pipeline "genius_division" {
  system     = "genius"
  entity     = "division"
  batch_size = 5000
  timezone   = "UTC" # the zone Genius writes its DATETIME values in

  source "mysql" {
    connection = "genius"
    table      = "division"
    columns = [
      "id", "group_id", "region_id", "label", "abbreviation", "is_utility", "is_corp",
      "is_omniscient", "is_inactive", "account_scheduler_id", "created_at", "updated_at",
    ]
    key                = ["id"]
    incremental_column = "updated_at"
    fallback_column    = "created_at"
  }

  incremental { cursor = "updated_at ?? created_at" }

  map {
    id                   = "int(record.id)"
    group_id             = "int(record.group_id)"
    region_id            = "int(record.region_id)"
    label                = "nullif(trim(record.label), '')"
    abbreviation         = "nullif(trim(record.abbreviation), '')"
    is_utility           = "bool(record.is_utility)"
    is_corp              = "bool(record.is_corp)"
    is_omniscient        = "bool(record.is_omniscient)"
    is_inactive          = "bool(record.is_inactive)"
    account_scheduler_id = "int(record.account_scheduler_id)"
    created_at           = "timestamp(record.created_at)"
    updated_at           = "timestamp(record.updated_at)"
  }

  sink "warehouse" {
    table = "genius.division"
    key   = ["id"]
  }
}
