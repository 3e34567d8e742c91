# Genius division groups. mes_profile_key and paysimple_secret are credentials:
# they are not read, so they never reach the warehouse.
# Read straight from Genius's MySQL database (GENIUS_MYSQL_DSN).
# Incremental by updated_at, in keyset order; rows whose updated_at is NULL or a zero
# date are read by created_at instead, so none is lost (sources/mysql/README.md).
pipeline "genius_division_group" {
  system     = "genius"
  entity     = "division_group"
  batch_size = 5000
  timezone   = "UTC" # the zone Genius writes its DATETIME values in

  source "mysql" {
    connection = "genius"
    table      = "division_group"
    columns = [
      "id", "group_label", "region", "default_time_zone_name", "intern_payroll_start",
      "painter_payroll_start", "is_active", "cc_profile_id", "mes_profile_id",
      "docusign_acct_id", "paysimple_username", "hub_account_id", "created_at",
      "updated_at",
    ]
    key                = ["id"]
    incremental_column = "updated_at"
    fallback_column    = "created_at"
  }

  incremental { cursor = "updated_at ?? created_at" }

  map {
    id                     = "int(record.id)"
    group_label            = "nullif(trim(record.group_label), '')"
    region                 = "nullif(trim(record.region), '')"
    default_time_zone_name = "nullif(trim(record.default_time_zone_name), '')"
    intern_payroll_start   = "date(record.intern_payroll_start)"
    painter_payroll_start  = "date(record.painter_payroll_start)"
    is_active              = "bool(record.is_active)"
    cc_profile_id          = "nullif(trim(record.cc_profile_id), '')"
    mes_profile_id         = "nullif(trim(record.mes_profile_id), '')"
    docusign_acct_id       = "nullif(trim(record.docusign_acct_id), '')"
    paysimple_username     = "nullif(trim(record.paysimple_username), '')"
    hub_account_id         = "nullif(trim(record.hub_account_id), '')"
    created_at             = "timestamp(record.created_at)"
    updated_at             = "timestamp(record.updated_at)"
  }

  sink "warehouse" {
    table = "genius.division_group"
    key   = ["id"]
  }
}
