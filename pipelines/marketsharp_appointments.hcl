# MarketSharp appointments, linked to their inquiry by inquiryId. See
# marketsharp_contacts.hcl for paging, the incremental cursor and the
# secrets.
pipeline "marketsharp_appointments" {
  system     = "marketsharp"
  entity     = "appointments"
  batch_size = 1000
  # A few malformed records (an unreadable date) are rejected; more than 1% means something else is wrong.
  max_rejects = "1%"
  mask        = ["note"] # PII stays out of etl_rejects

  source "odata" {
    connection = "marketsharp" # connections/marketsharp.hcl: URL, paging, incremental order, HMAC header, retry
    entity_set = "Appointments"
  }

  incremental { cursor = "last_update" }

  map {
    id               = "nullif(lower(trim(record.id)), '')"
    inquiry_id       = "nullif(lower(trim(record.inquiryId)), '')"
    salesperson1_id  = "nullif(lower(trim(record.salesperson1Id)), '')"
    salesperson2_id  = "nullif(lower(trim(record.salesperson2Id)), '')"
    set_by_id        = "nullif(lower(trim(record.setById)), '')"
    result_id        = "nullif(lower(trim(record.resultId)), '')"
    appointment_date = "timestamp(record.appointmentDate)"
    set_date         = "timestamp(record.setDate)"
    issued_date      = "timestamp(record.issuedDate)"
    subject          = "nullif(trim(record.subject), '')"
    type             = "nullif(trim(record.type), '')"
    note             = "nullif(record.note, '')"
    result_reason    = "nullif(trim(record.resultReason), '')"
    is_active        = "bool(record.isActive)"
    last_update_by   = "nullif(lower(trim(record.lastUpdateBy)), '')"
    created_by       = "nullif(lower(trim(record.createdBy)), '')"
    created_date     = "timestamp(record.createdDate)"
    last_update      = "timestamp(record.lastUpdate)"
  }

  validate "has_id" {
    check   = "id != nil"
    message = "appointments record has no id"
  }

  sink "warehouse" {
    table = "marketsharp.appointments"
    key   = ["id"]
  }
}
