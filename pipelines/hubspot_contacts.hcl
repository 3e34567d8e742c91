# HubSpot contacts, read in full from the CRM v3 list API, 100 a page.
#
# Every property value arrives as a string, "" or null, or is missing; ids are
# numeric strings; date-times are ISO 8601 UTC with milliseconds. The list API
# cannot filter by date, so each run pages through every contact and the
# incremental cursor skips the ones that have not changed since the last run
# (they are counted as skipped, not written). hubspot_contacts_incremental.hcl
# asks the search API for the changed ones only.
pipeline "hubspot_contacts" {
  system     = "hubspot"
  entity     = "contacts"
  batch_size = 500
  # email() rejects an address that is not one; HubSpot validates emails on
  # entry, so more than a few rejects means something else is wrong.
  max_rejects = "1%"
  mask        = ["properties"] # names, emails and phones stay out of etl_rejects

  source "rest" {
    connection = "hubspot" # connections/hubspot.hcl: base URL, token, paging, the account's rate budget, retry
    url        = "/crm/v3/objects/contacts"
    query = {
      limit      = 100
      archived   = false
      properties = "email,firstname,lastname,phone,mobilephone,company,jobtitle,lifecyclestage,hs_lead_status,hubspot_owner_id,createdate,lastmodifieddate"
    }
  }

  incremental {
    cursor = "updated_at"
  }

  map {
    id              = "int(record.id)"
    email           = "email(record.properties?.email)"
    first_name      = "nullif(trim(record.properties?.firstname), '')"
    last_name       = "nullif(trim(record.properties?.lastname), '')"
    phone           = "nullif(trim(record.properties?.phone), '')"
    mobile_phone    = "nullif(trim(record.properties?.mobilephone), '')"
    company         = "nullif(trim(record.properties?.company), '')"
    job_title       = "nullif(trim(record.properties?.jobtitle), '')"
    lifecycle_stage = "nullif(record.properties?.lifecyclestage, '')"
    lead_status     = "nullif(record.properties?.hs_lead_status, '')"
    owner_id        = "int(record.properties?.hubspot_owner_id)"
    archived        = "bool(record.archived)"
    created_at      = "timestamp_ms(coalesce(record.properties?.createdate, record.createdAt))"
    updated_at      = "timestamp_ms(coalesce(record.properties?.lastmodifieddate, record.updatedAt))"
  }

  validate "has_id" {
    check   = "id != nil"
    message = "contact has no id"
  }

  sink "warehouse" {
    table = "hubspot.contacts"
    key   = ["id"]
  }
}
