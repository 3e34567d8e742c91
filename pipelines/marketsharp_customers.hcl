# MarketSharp customers: the contacts of type customer, from the Customers
# entity set (same properties as Contacts). See marketsharp_contacts.hcl for
# paging, the incremental cursor and the secrets.
pipeline "marketsharp_customers" {
  system     = "marketsharp"
  entity     = "customers"
  batch_size = 1000
  # A few malformed records (an unreadable date) are rejected and the run
  # goes on; more than 1% means something else is wrong.
  max_rejects = "1%"
  mask        = ["firstName", "lastName", "middleInitial", "email1", "email2", "email3", "businessName"] # PII stays out of etl_rejects

  source "odata" {
    url          = env("MARKETSHARP_API_URL", "https://api4.marketsharpm.com/WcfDataService.svc")
    entity_set   = "Customers"
    top          = 5000         # page size ($top)
    cursor_field = "lastUpdate" # incremental: $filter=lastUpdate ge datetime'<cursor>'
    key_field    = "id"         # $orderby=lastUpdate asc,id asc; each page continues after the last entity read
    key          = "record.id"

    # MarketSharp's HMAC header, computed before every request (a retry
    # included): companyId:apiKey:epochSeconds:signature, where signature is
    # base64(HMAC-SHA256(base64decode(secret key), companyId + apiKey +
    # epochSeconds)).
    secrets = {
      company_id = env("MARKETSHARP_COMPANY_ID")
      api_key    = env("MARKETSHARP_API_KEY")
      secret_key = env("MARKETSHARP_SECRET_KEY")
    }
    headers = {
      Authorization = "{{ let ts = string(now_unix()); secrets.company_id + ':' + secrets.api_key + ':' + ts + ':' + base64_encode(hmac_sha256(base64_decode(secrets.secret_key), secrets.company_id + secrets.api_key + ts)) }}"
    }

    # The service answers 503 under load; its clients wait 10 s, 5 times.
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
    id                 = "nullif(lower(trim(record.id)), '')"
    company_id         = "int(record.companyId)"
    first_name         = "nullif(trim(record.firstName), '')"
    last_name          = "nullif(trim(record.lastName), '')"
    middle_initial     = "nullif(trim(record.middleInitial), '')"
    title              = "nullif(trim(record.title), '')"
    business_name      = "nullif(trim(record.businessName), '')"
    email1             = "nullif(lower(trim(record.email1)), '')"
    email2             = "nullif(lower(trim(record.email2)), '')"
    email3             = "nullif(lower(trim(record.email3)), '')"
    do_not_mail        = "bool(record.doNotMail)"
    has_dnc_phone      = "bool(record.hasDncPhone)"
    has_dne_email      = "bool(record.hasDneEmail)"
    source             = "nullif(trim(record.source), '')"
    contact_phone_id   = "nullif(lower(trim(record.contactPhoneId)), '')"
    primary_address_id = "nullif(lower(trim(record.primaryAddressId)), '')"
    is_active          = "bool(record.isActive)"
    creation_date      = "timestamp(record.creationDate)"
    created_date       = "timestamp(record.createdDate)"
    last_update        = "timestamp(record.lastUpdate)"
  }

  validate "has_id" {
    check   = "id != nil"
    message = "customers record has no id"
  }

  sink "warehouse" {
    table = "marketsharp.customers"
    key   = ["id"]
  }
}
