# MarketSharp jobs, linked to their contact (contactId) and inquiry
# (inquiryId). See marketsharp_contacts.hcl for paging, the incremental
# cursor and the secrets.
pipeline "marketsharp_jobs" {
  system     = "marketsharp"
  entity     = "jobs"
  batch_size = 1000
  # A few malformed records (an unreadable date) are rejected and the run
  # goes on; more than 1% means something else is wrong.
  max_rejects = "1%"
  mask        = ["addressLine1", "addressLine2", "note"] # PII stays out of etl_rejects

  source "odata" {
    url          = env("MARKETSHARP_API_URL", "https://api4.marketsharpm.com/WcfDataService.svc")
    entity_set   = "Jobs"
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
