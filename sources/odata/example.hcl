# An OData source with every attribute: MarketSharp's contacts, incremental
# on lastUpdate, with its HMAC header computed for every request.
pipeline "odata_example" {
  system   = "marketsharp"
  entity   = "contacts"
  timezone = "UTC" # Edm.DateTime values (no offset) are read in this timezone

  source "odata" {
    url        = "https://api4.marketsharpm.com/WcfDataService.svc" # the service root
    entity_set = "Contacts"
    version    = 2      # 2 (default) or 4
    format     = "atom" # what to ask for: "atom" (v2 default) or "json"

    select  = ["id", "companyId", "firstName", "lastName", "email1", "isActive", "lastUpdate"]
    filter  = "isActive eq true"
    orderby = "lastUpdate asc,id asc" # must start with cursor_field, ascending
    expand  = ""
    top     = 5000  # page size; without a next link, see key_field
    count   = false # true: $inlinecount=allpages on the first request, for progress
    query   = { "$format" = "atom" }

    cursor_field = "lastUpdate" # an incremental run asks for lastUpdate ge <cursor>
    cursor_type  = "datetime"   # datetime | datetimeoffset | number | string
    key_field    = "id"         # without a next link, each page continues after the last entity read
    key_type     = "string"     # string | guid | number (default: from the value)
    key          = "record.id"  # the entity's id, for rejects

    secrets = {
      company_id = env("MARKETSHARP_COMPANY_ID")
      api_key    = env("MARKETSHARP_API_KEY")
      secret_key = env("MARKETSHARP_SECRET_KEY")
    }
    headers = {
      Authorization = "{{ let ts = string(now_unix()); secrets.company_id + ':' + secrets.api_key + ':' + ts + ':' + base64_encode(hmac_sha256(base64_decode(secrets.secret_key), secrets.company_id + secrets.api_key + ts)) }}"
    }
    timeout   = "2m" # one attempt of one request, the page included
    max_pages = 0    # 0: no limit

    rate_limit {
      requests = 5
      per      = "1s"
    }
    retry {
      attempts = 5
      backoff  = "10s"
      max_wait = "3m"
    }
  }

  incremental {
    cursor = "last_update"
  }

  map {
    id          = "record.id"
    company_id  = "int(record.companyId)"
    first_name  = "nullif(trim(record.firstName), '')"
    last_name   = "nullif(trim(record.lastName), '')"
    email       = "nullif(lower(trim(record.email1)), '')"
    is_active   = "bool(record.isActive)"
    last_update = "timestamp(record.lastUpdate)"
  }

  sink "warehouse" {
    table = "marketsharp.contacts"
    key   = ["id"]
  }
}
