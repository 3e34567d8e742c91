# Genius users, with the primary user of their association (one person with
# several logins) from users_userassociations.
# Read straight from Genius's MySQL database (GENIUS_MYSQL_DSN).
# Incremental by updated_at, in keyset order; rows whose updated_at is NULL or a zero
# date are read by add_datetime instead, so none is lost (sources/mysql/README.md).
pipeline "genius_user_data" {
  system     = "genius"
  entity     = "user_data"
  batch_size = 5000
  timezone   = "UTC" # the zone Genius writes its DATETIME values in

  source "mysql" {
    connection         = "genius"
    query              = <<-SQL
      SELECT u.user_id, u.division_id, u.title_id, u.manager_user_id, u.first_name,
             u.first_name_alt, u.last_name, u.email, u.personal_email, u.birth_date,
             u.gender_id, u.marital_status_id, u.time_zone_name, u.hired_on,
             u.start_date, u.add_user_id, u.add_datetime, u.updated_at, u.is_inactive,
             u.inactive_on, u.inactive_reason_id, u.inactive_reason_other,
             u.inactive_transfer_division_id, u.user_associations_id,
             ua.primary_user_id
      FROM user_data u
      LEFT JOIN users_userassociations ua ON ua.id = u.user_associations_id
    SQL
    key                = ["user_id"]
    incremental_column = "updated_at"
    fallback_column    = "add_datetime"
  }

  incremental { cursor = "updated_at ?? add_datetime" }

  map {
    user_id                       = "int(record.user_id)"
    division_id                   = "int(record.division_id)"
    title_id                      = "int(record.title_id)"
    manager_user_id               = "int(record.manager_user_id)"
    first_name                    = "nullif(trim(record.first_name), '')"
    first_name_alt                = "nullif(trim(record.first_name_alt), '')"
    last_name                     = "nullif(trim(record.last_name), '')"
    email                         = "nullif(trim(record.email), '')"
    personal_email                = "nullif(trim(record.personal_email), '')"
    birth_date                    = "date(record.birth_date)"
    gender_id                     = "int(record.gender_id)"
    marital_status_id             = "int(record.marital_status_id)"
    time_zone_name                = "nullif(trim(record.time_zone_name), '')"
    hired_on                      = "date(record.hired_on)"
    start_date                    = "date(record.start_date)"
    add_user_id                   = "int(record.add_user_id)"
    add_datetime                  = "timestamp(record.add_datetime)"
    updated_at                    = "timestamp(record.updated_at)"
    is_inactive                   = "bool(record.is_inactive)"
    inactive_on                   = "date(record.inactive_on)"
    inactive_reason_id            = "int(record.inactive_reason_id)"
    inactive_reason_other         = "nullif(trim(record.inactive_reason_other), '')"
    inactive_transfer_division_id = "int(record.inactive_transfer_division_id)"
    user_associations_id          = "int(record.user_associations_id)"
    primary_user_id               = "int(record.primary_user_id)"
  }

  sink "warehouse" {
    table = "genius.user_data"
    key   = ["user_id"]
  }
}
