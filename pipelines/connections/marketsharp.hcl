# MarketSharp's read-only OData v2 service (Atom XML): one account, one
# signature, one retry policy for every entity. A pipeline names it with
# connection = "marketsharp" and adds its entity_set; any attribute it sets
# replaces the one here.
#
# Paging: 5,000 a page. Where the service sends no next link, the source
# asks for each page itself: with key_field, not by $skip (as MarketSharp's
# own clients do) but for the entities after the last one read, so an entity
# updated during the run cannot shift another past a page boundary.
#
# Incremental on lastUpdate: a run asks for the entities whose lastUpdate is
# at or after the saved cursor (inclusive: the ones at the boundary come
# again and count as unchanged), sorted by it, so the cursor is saved with
# every batch and an interrupted run resumes where it stopped. Edm.DateTime
# values carry no offset; they are read in the pipeline's timezone (UTC).
#
# Secrets: MARKETSHARP_COMPANY_ID, MARKETSHARP_API_KEY and the base64
# MARKETSHARP_SECRET_KEY, from the admin's API maintenance screen.
connection "marketsharp" {
  url          = env("MARKETSHARP_API_URL", "https://api4.marketsharpm.com/WcfDataService.svc")
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
