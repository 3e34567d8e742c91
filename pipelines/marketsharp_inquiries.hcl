# MarketSharp inquiries (leads on a contact: contactId), with their source
# and status. Paging, the incremental cursor and the
# secrets: connections/marketsharp.hcl.
pipeline "marketsharp_inquiries" {
  system     = "marketsharp"
  entity     = "inquiries"
  batch_size = 1000
  # A few malformed records (an unreadable date) are rejected; more than 1% means something else is wrong.
  max_rejects = "1%"
  mask        = ["note", "jobSiteAddressLine1", "jobSiteAddressLine2"] # PII stays out of etl_rejects

  source "odata" {
    connection = "marketsharp" # connections/marketsharp.hcl: URL, paging, incremental order, HMAC header, retry
    entity_set = "Inquiries"
  }

  incremental { cursor = "last_update" }

  map {
    id                          = "nullif(lower(trim(record.id)), '')"
    contact_id                  = "nullif(lower(trim(record.contactId)), '')"
    description                 = "nullif(trim(record.description), '')"
    inquiry_source_primary_id   = "nullif(lower(trim(record.inquirySourcePrimaryId)), '')"
    inquiry_source_secondary_id = "nullif(lower(trim(record.inquirySourceSecondaryId)), '')"
    inquiry_status_id           = "int(record.inquiryStatusId)"
    division                    = "nullif(trim(record.division), '')"
    inquiry_date                = "timestamp(record.inquiryDate)"
    set_date                    = "timestamp(record.setDate)"
    note                        = "nullif(record.note, '')"
    job_site_city               = "nullif(trim(record.jobSiteCity), '')"
    job_site_state              = "nullif(trim(record.jobSiteState), '')"
    job_site_zip                = "nullif(trim(record.jobSiteZip), '')"
    is_active                   = "bool(record.isActive)"
    last_update_by              = "nullif(lower(trim(record.lastUpdateBy)), '')"
    created_by                  = "nullif(trim(record.createdBy), '')"
    created_date                = "timestamp(record.createdDate)"
    last_update                 = "timestamp(record.lastUpdate)"
  }

  validate "has_id" {
    check   = "id != nil"
    message = "inquiries record has no id"
  }

  sink "warehouse" {
    table = "marketsharp.inquiries"
    key   = ["id"]
  }
}
