# HubSpot contacts changed since the last run, from the CRM v3 search API.
#
# The search asks for lastmodifieddate >= the saved cursor (inclusive, so a
# contact at the boundary is read again and counts as unchanged), sorted
# ascending, 100 a page. HubSpot refuses to page a search past 10,000 results:
# before that, the source restarts the search from the last lastmodifieddate
# it read and skips, by id, the contacts at that instant it already has.
# Because the results come sorted by the cursor, the cursor is saved with every
# batch, and an interrupted run resumes where it stopped.
#
# Search is throttled harder than the list API (about 4 requests a second) and
# sends no rate-limit headers. Lands in the same table as hubspot_contacts.hcl.
pipeline "hubspot_contacts_incremental" {
  system     = "hubspot"
  entity     = "contacts"
  batch_size = 500
  # email() rejects an address that is not one; HubSpot validates emails on
  # entry, so more than a few rejects means something else is wrong.
  max_rejects = "1%"
  mask        = ["properties"] # names, emails and phones stay out of etl_rejects

  source "rest" {
    connection = "hubspot" # connections/hubspot.hcl: base URL, token, retry; paging and budget are the search API's own
    url        = "/crm/v3/objects/contacts/search"
    method     = "POST"
    body = {
      limit      = 100
      properties = ["email", "firstname", "lastname", "phone", "mobilephone", "company", "jobtitle", "lifecyclestage", "hs_lead_status", "hubspot_owner_id", "createdate", "lastmodifieddate"]
      sorts      = [{ propertyName = "lastmodifieddate", direction = "ASCENDING" }]
      filterGroups = [{
        filters = [{
          propertyName = "lastmodifieddate"
          operator     = "GTE"
          # since: the saved cursor (or --since, or the restart point); epoch ms.
          value = "{{ since == nil ? '0' : string(timestamp(since).UnixMilli()) }}"
        }]
      }]
    }

    paginate "cursor" {
      next         = "body.paging?.next?.after"
      param        = "after"
      in           = "body"
      restart_from = "timestamp_ms(record.properties?.lastmodifieddate)"
      max_results  = 10000
      total        = "body.total" # for the progress line's ETA
    }

    rate_limit {
      requests = 4
      per      = "1s"
    }
  }

  # Under etl serve, a HubSpot webhook delivery (any contact event, at the
  # app's one target URL, stored by hubspot_contact_events.hcl) starts a
  # run; deliveries within 10 s start one run.
  trigger "webhook" {
    path     = "/webhooks/hubspot"
    secrets  = { client_secret = env("HUBSPOT_CLIENT_SECRET", "") }
    verify   = var.hubspot_webhook_verify
    debounce = "10s"
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
