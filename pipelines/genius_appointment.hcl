# Genius appointments. The date and the time are separate columns, combined into
# starts_at in the pipeline's timezone. hubspot_id is the HubSpot id of the
# appointment's prospect, through Genius's third-party cross-reference.
# Read straight from Genius's MySQL database (GENIUS_MYSQL_DSN).
# Incremental by updated_at, in keyset order; rows whose updated_at is NULL or a zero
# date are read by add_date instead, so none is lost (sources/mysql/README.md).
pipeline "genius_appointment" {
  system     = "genius"
  entity     = "appointment"
  batch_size = 5000
  timezone   = "UTC" # the zone Genius writes its DATETIME values in

  source "mysql" {
    connection         = "genius"
    query              = <<-SQL
      SELECT a.id, a.prospect_id, a.prospect_source_id, a.user_id, a.type_id,
             a.date, a.time, a.duration, a.address1, a.address2, a.city, a.state,
             a.zip, a.email, a.notes, a.add_user_id, a.add_date, a.assign_date,
             a.confirm_user_id, a.confirm_date, a.confirm_with, a.spouses_present,
             a.is_complete, a.complete_outcome_id, a.complete_user_id,
             a.complete_date, a.updated_at, a.marketsharp_id, a.marketsharp_appt_type,
             a.leap_estimate_id, a.third_party_source_id,
             tps.third_party_id, tpst.label AS third_party_label
      FROM appointment a
      LEFT JOIN prospect p ON p.id = a.prospect_id
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
    prospect_id           = "int(record.prospect_id)"
    prospect_source_id    = "int(record.prospect_source_id)"
    user_id               = "int(record.user_id)"
    type_id               = "int(record.type_id)"
    date                  = "date(record.date)"
    time                  = "nullif(trim(record.time), '')"
    starts_at             = "nullif(trim(record.date), '') != nil && nullif(trim(record.time), '') != nil ? timestamp(trim(record.date) + ' ' + trim(record.time)) : nil"
    duration              = "int(record.duration)"
    address1              = "nullif(trim(record.address1), '')"
    address2              = "nullif(trim(record.address2), '')"
    city                  = "nullif(trim(record.city), '')"
    state                 = "nullif(trim(record.state), '')"
    zip                   = "nullif(trim(record.zip), '')"
    email                 = "nullif(trim(record.email), '')"
    notes                 = "nullif(record.notes, '')"
    add_user_id           = "int(record.add_user_id)"
    add_date              = "timestamp(record.add_date)"
    assign_date           = "timestamp(record.assign_date)"
    confirm_user_id       = "int(record.confirm_user_id)"
    confirm_date          = "timestamp(record.confirm_date)"
    confirm_with          = "nullif(trim(record.confirm_with), '')"
    spouses_present       = "bool(record.spouses_present)"
    is_complete           = "bool(record.is_complete)"
    complete_outcome_id   = "int(record.complete_outcome_id)"
    complete_user_id      = "int(record.complete_user_id)"
    complete_date         = "timestamp(record.complete_date)"
    updated_at            = "timestamp(record.updated_at)"
    marketsharp_id        = "nullif(trim(record.marketsharp_id), '')"
    marketsharp_appt_type = "nullif(trim(record.marketsharp_appt_type), '')"
    leap_estimate_id      = "nullif(trim(record.leap_estimate_id), '')"
    third_party_source_id = "int(record.third_party_source_id)"
    hubspot_id            = "lower(record.third_party_label) == 'hubspot' ? nullif(trim(record.third_party_id), '') : nil"
  }

  sink "warehouse" {
    table = "genius.appointment"
    key   = ["id"]
  }
}
