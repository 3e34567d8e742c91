# MarketSharp jobs, linked to their contact (contactId) and inquiry
# (inquiryId). Paging, the incremental cursor and the
# secrets: connections/marketsharp.hcl.
pipeline "marketsharp_jobs" {
  system     = "marketsharp"
  entity     = "jobs"
  batch_size = 1000
  # A few malformed records (an unreadable date) are rejected; more than 1% means something else is wrong.
  max_rejects = "1%"
  mask        = ["addressLine1", "addressLine2", "note"] # PII stays out of etl_rejects

  source "odata" {
    connection = "marketsharp" # connections/marketsharp.hcl: URL, paging, incremental order, HMAC header, retry
    entity_set = "Jobs"
  }

  incremental { cursor = "last_update" }

  map {
    id                        = "nullif(lower(trim(record.id)), '')"
    contact_id                = "nullif(lower(trim(record.contactId)), '')"
    inquiry_id                = "nullif(lower(trim(record.inquiryId)), '')"
    appointment_id            = "nullif(lower(trim(record.appointmentId)), '')"
    number                    = "nullif(trim(record.number), '')"
    name                      = "nullif(trim(record.name), '')"
    description               = "nullif(trim(record.description), '')"
    type                      = "nullif(trim(record.type), '')"
    status                    = "nullif(trim(record.status), '')"
    address_line1             = "nullif(trim(record.addressLine1), '')"
    address_line2             = "nullif(trim(record.addressLine2), '')"
    city                      = "nullif(trim(record.city), '')"
    state                     = "nullif(trim(record.state), '')"
    zip                       = "nullif(trim(record.zip), '')"
    note                      = "nullif(record.note, '')"
    start_date                = "timestamp(record.startDate)"
    sale_date                 = "timestamp(record.saleDate)"
    completed_date            = "timestamp(record.completedDate)"
    is_active                 = "bool(record.isActive)"
    exported_to_guild_quality = "bool(record.exportedToGuildQuality)"
    created_date              = "timestamp(record.createdDate)"
    last_update               = "timestamp(record.lastUpdate)"
  }

  validate "has_id" {
    check   = "id != nil"
    message = "jobs record has no id"
  }

  sink "warehouse" {
    table = "marketsharp.jobs"
    key   = ["id"]
  }
}
