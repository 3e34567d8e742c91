# MarketSharp appointments, linked to their inquiry by inquiryId. See
# marketsharp_contacts.hcl for paging, the incremental cursor and the
# secrets.
pipeline "marketsharp_appointments" {
  system     = "marketsharp"
  entity     = "appointments"
  batch_size = 1000
  # A few malformed records (an unreadable date) are rejected and the run
  # goes on; more than 1% means something else is wrong.
  max_rejects = "1%"
  mask        = ["note"] # PII stays out of etl_rejects

  source "odata" {
    url          = env("MARKETSHARP_API_URL", "https://api4.marketsharpm.com/WcfDataService.svc")
    entity_set   = "Appointments"
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
