# Genius prospects (homeowners), with the HubSpot contact id when Genius has one:
# third_party_source holds cross-references, and third_party_source_type says
# which system each belongs to; only 'hubspot' ones become hubspot_id.
# Read straight from Genius's MySQL database (GENIUS_MYSQL_DSN).
# Incremental by updated_at, in keyset order; rows whose updated_at is NULL or a zero
# date are read by add_date instead, so none is lost (sources/mysql/README.md).
pipeline "genius_prospect" {
  system     = "genius"
  entity     = "prospect"
  batch_size = 5000
  timezone   = "UTC" # the zone Genius writes its DATETIME values in

  source "mysql" {
    connection         = "genius"
    query              = <<-SQL
      SELECT p.id, p.division_id, p.user_id, p.first_name, p.last_name,
             p.alt_first_name, p.alt_last_name, p.address1, p.address2, p.city,
             p.county, p.state, p.zip, p.year_built, p.phone1, p.phone2, p.email,
             p.notes, p.add_user_id, p.add_date, p.marketsharp_id, p.leap_customer_id,
             p.third_party_source_id, p.updated_at,
             tps.third_party_id, tpst.label AS third_party_label
      FROM prospect p
      LEFT JOIN third_party_source tps ON tps.id = p.third_party_source_id
      LEFT JOIN third_party_source_type tpst ON tpst.id = tps.third_party_source_type_id AND tpst.label = 'hubspot'
    SQL
    key                = ["id"]
    incremental_column = "updated_at"
    fallback_column    = "add_date"
  }

  incremental { cursor = "updated_at ?? add_date" }

  map {
    id                    = "int(record.id)"
    division_id           = "int(record.division_id)"
    user_id               = "int(record.user_id)"
    first_name            = "nullif(trim(record.first_name), '')"
    last_name             = "nullif(trim(record.last_name), '')"
    alt_first_name        = "nullif(trim(record.alt_first_name), '')"
    alt_last_name         = "nullif(trim(record.alt_last_name), '')"
    address1              = "nullif(trim(record.address1), '')"
    address2              = "nullif(trim(record.address2), '')"
    city                  = "nullif(trim(record.city), '')"
    county                = "nullif(trim(record.county), '')"
    state                 = "nullif(trim(record.state), '')"
    zip                   = "nullif(trim(record.zip), '')"
    year_built            = "int(record.year_built)"
    phone1                = "nullif(trim(record.phone1), '')"
    phone2                = "nullif(trim(record.phone2), '')"
    email                 = "nullif(trim(record.email), '')"
    notes                 = "nullif(record.notes, '')"
    add_user_id           = "int(record.add_user_id)"
    add_date              = "timestamp(record.add_date)"
    marketsharp_id        = "nullif(trim(record.marketsharp_id), '')"
    leap_customer_id      = "nullif(trim(record.leap_customer_id), '')"
    third_party_source_id = "int(record.third_party_source_id)"
    updated_at            = "timestamp(record.updated_at)"
    hubspot_id            = "lower(record.third_party_label) == 'hubspot' ? nullif(trim(record.third_party_id), '') : nil"
  }

  sink "warehouse" {
    table = "genius.prospect"
    key   = ["id"]
  }
}
