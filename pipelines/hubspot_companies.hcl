# HubSpot companies, read in full from the CRM v3 list API, 100 a page.
# Companies carry hs_lastmodifieddate (contacts have lastmodifieddate).
# Numbers arrive as strings ("17", "" when cleared).
pipeline "hubspot_companies" {
  system     = "hubspot"
  entity     = "companies"
  batch_size = 500

  source "rest" {
    connection = "hubspot" # connections/hubspot.hcl: base URL, token, paging, the account's rate budget, retry
    url        = "/crm/v3/objects/companies"
    query = {
      limit      = 100
      archived   = false
      properties = "name,domain,industry,phone,address,city,state,zip,country,numberofemployees,annualrevenue,lifecyclestage,hubspot_owner_id,createdate,hs_lastmodifieddate"
    }
  }

  incremental {
    cursor = "updated_at"
  }

  map {
    id                  = "int(record.id)"
    name                = "nullif(trim(record.properties?.name), '')"
    domain              = "lower(nullif(trim(record.properties?.domain), ''))"
    industry            = "nullif(record.properties?.industry, '')"
    phone               = "nullif(trim(record.properties?.phone), '')"
    address             = "nullif(trim(record.properties?.address), '')"
    city                = "nullif(trim(record.properties?.city), '')"
    state               = "nullif(trim(record.properties?.state), '')"
    zip                 = "nullif(trim(record.properties?.zip), '')"
    country             = "nullif(trim(record.properties?.country), '')"
    number_of_employees = "int(record.properties?.numberofemployees)"
    annual_revenue      = "decimal(record.properties?.annualrevenue)"
    lifecycle_stage     = "nullif(record.properties?.lifecyclestage, '')"
    owner_id            = "int(record.properties?.hubspot_owner_id)"
    archived            = "bool(record.archived)"
    created_at          = "timestamp_ms(coalesce(record.properties?.createdate, record.createdAt))"
    updated_at          = "timestamp_ms(coalesce(record.properties?.hs_lastmodifieddate, record.updatedAt))"
  }

  sink "warehouse" {
    table = "hubspot.companies"
    key   = ["id"]
  }
}
