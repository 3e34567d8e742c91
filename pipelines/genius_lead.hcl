# Genius leads: not yet prospects. `lead` is a reserved word in MySQL 8; the
# source quotes every identifier. Column names follow the warehouse's lead
# model: phone1 → phone, zip → zip_code, copied_to_id →
# converted_to_prospect_id, added_on → created_at. Rows never updated have a
# NULL updated_at and are read by added_on.
# Read straight from Genius's MySQL database (GENIUS_MYSQL_DSN).
# Incremental by updated_at, in keyset order; rows whose updated_at is NULL or a zero
# date are read by added_on instead, so none is lost (sources/mysql/README.md).
pipeline "genius_lead" {
  system     = "genius"
  entity     = "lead"
  batch_size = 5000
  timezone   = "UTC" # the zone Genius writes its DATETIME values in

  source "mysql" {
    connection = "genius"
    table      = "lead"
    columns = [
      "lead_id", "first_name", "last_name", "email", "phone1", "address1", "city",
      "state", "zip", "source", "added_by", "division", "notes", "status",
      "copied_to_id", "added_on", "updated_at",
    ]
    key                = ["lead_id"]
    incremental_column = "updated_at"
    fallback_column    = "added_on"
  }

  incremental { cursor = "updated_at ?? created_at" }

  map {
    lead_id                  = "int(record.lead_id)"
    first_name               = "nullif(trim(record.first_name), '')"
    last_name                = "nullif(trim(record.last_name), '')"
    email                    = "nullif(trim(record.email), '')"
    phone                    = "nullif(trim(record.phone1), '')"
    address1                 = "nullif(trim(record.address1), '')"
    city                     = "nullif(trim(record.city), '')"
    state                    = "nullif(trim(record.state), '')"
    zip_code                 = "nullif(trim(record.zip), '')"
    source                   = "nullif(trim(record.source), '')"
    added_by                 = "int(record.added_by)"
    division                 = "int(record.division)"
    notes                    = "nullif(record.notes, '')"
    status                   = "nullif(trim(record.status), '')"
    converted_to_prospect_id = "int(record.copied_to_id)"
    created_at               = "timestamp(record.added_on)"
    updated_at               = "timestamp(record.updated_at)"
  }

  sink "warehouse" {
    table = "genius.lead"
    key   = ["lead_id"]
  }
}
