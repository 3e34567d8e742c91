# HubSpot deals, read in full from the CRM v3 list API, 100 a page, with the
# ids of their associated companies and contacts inline. An association id
# repeats once per association label, hence uniq.
pipeline "hubspot_deals" {
  system     = "hubspot"
  entity     = "deals"
  batch_size = 500

  source "rest" {
    connection = "hubspot" # connections/hubspot.hcl: base URL, token, paging, the account's rate budget, retry
    url        = "/crm/v3/objects/deals"
    query = {
      limit        = 100
      archived     = false
      properties   = "dealname,amount,dealstage,pipeline,closedate,dealtype,hubspot_owner_id,createdate,hs_lastmodifieddate"
      associations = "companies,contacts"
    }
  }

  incremental {
    cursor = "updated_at"
  }

  map {
    id          = "int(record.id)"
    name        = "nullif(trim(record.properties?.dealname), '')"
    amount      = "decimal(record.properties?.amount)"
    stage       = "nullif(record.properties?.dealstage, '')"
    pipeline    = "nullif(record.properties?.pipeline, '')"
    deal_type   = "nullif(record.properties?.dealtype, '')"
    close_date  = "timestamp_ms(record.properties?.closedate)"
    owner_id    = "int(record.properties?.hubspot_owner_id)"
    company_ids = "uniq(map(record.associations?.companies?.results ?? [], string(.id)))"
    contact_ids = "uniq(map(record.associations?.contacts?.results ?? [], string(.id)))"
    archived    = "bool(record.archived)"
    created_at  = "timestamp_ms(coalesce(record.properties?.createdate, record.createdAt))"
    updated_at  = "timestamp_ms(coalesce(record.properties?.hs_lastmodifieddate, record.updatedAt))"
  }

  sink "warehouse" {
    table = "hubspot.deals"
    key   = ["id"]
    columns {
      company_ids = "json"
      contact_ids = "json"
    }
  }
}
