# Genius marketing sources (where a prospect came from: a campaign, a show, a website).
# Read straight from Genius's MySQL database (GENIUS_MYSQL_DSN).
# Incremental by updated_at, in keyset order; rows whose updated_at is NULL or a zero
# date are read by add_date instead, so none is lost (sources/mysql/README.md).
pipeline "genius_marketing_source" {
  system     = "genius"
  entity     = "marketing_source"
  batch_size = 5000
  timezone   = "UTC" # the zone Genius writes its DATETIME values in

  source "mysql" {
    connection = "genius"
    table      = "marketing_source"
    columns = [
      "id", "type_id", "label", "description", "start_date", "end_date", "add_user_id",
      "add_date", "is_active", "is_allow_lead_modification", "updated_at",
    ]
    key                = ["id"]
    incremental_column = "updated_at"
    fallback_column    = "add_date"
  }

  incremental { cursor = "updated_at ?? add_date" }

  map {
    id                         = "int(record.id)"
    type_id                    = "int(record.type_id)"
    label                      = "nullif(trim(record.label), '')"
    description                = "nullif(trim(record.description), '')"
    start_date                 = "date(record.start_date)"
    end_date                   = "date(record.end_date)"
    add_user_id                = "int(record.add_user_id)"
    add_date                   = "timestamp(record.add_date)"
    is_active                  = "bool(record.is_active)"
    is_allow_lead_modification = "bool(record.is_allow_lead_modification)"
    updated_at                 = "timestamp(record.updated_at)"
  }

  sink "warehouse" {
    table = "genius.marketing_source"
    key   = ["id"]
  }
}
