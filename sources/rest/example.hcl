# The rest source: HubSpot deals changed since the last run, from the search API.
#
# Every attribute of the source is shown; the optional ones with their
# defaults. Strings in url, query, headers and body may hold {{ expr }} parts,
# evaluated for each request over `since` (the saved cursor or --since; nil on
# a full load), `cursor`, `page` and `offset`. A string that is exactly one
# {{ expr }} keeps the value's type (a number stays a number in the JSON body)
# and nil leaves the key out.
pipeline "hubspot_deals_changed" {
  system = "hubspot"
  entity = "deals"

  source "rest" {
    url    = "https://api.hubapi.com/crm/v3/objects/deals/search"
    method = "POST" # GET (default) or POST

    # Query parameters: strings, numbers, booleans; a list repeats the key.
    query = {}

    # Request headers. Credentials go in the auth block, not here.
    headers = { Accept = "application/json" }

    # Sent as JSON with POST.
    body = {
      limit      = 100
      properties = ["dealname", "amount", "dealstage", "hs_lastmodifieddate"]
      sorts      = [{ propertyName = "hs_lastmodifieddate", direction = "ASCENDING" }]
      filterGroups = [{
        filters = [{
          propertyName = "hs_lastmodifieddate"
          operator     = "GTE"
          value        = "{{ since == nil ? '0' : string(timestamp(since).UnixMilli()) }}"
        }]
      }]
    }

    # One attempt of one request, reading the body included.
    timeout = "30s"

    # Where the records are: a path into the body, or an expr over body and
    # headers. Default: the body is the array of records.
    records = "results"

    # The record's id: in rejects' positions, and how a restarted query knows
    # what it has read.
    key = "record.id"

    # The records come sorted by the incremental cursor, so the engine may save
    # the cursor with every batch. Default: true with restart_from, else false.
    ordered = true

    # bearer | basic | api_key | headers | oauth2
    auth "bearer" {
      token = env("HUBSPOT_TOKEN")
    }

    # cursor | next_url | link_header | offset | page | after_id
    paginate "cursor" {
      next  = "body.paging?.next?.after" # nil or "" ends paging; an empty page with a cursor goes on
      param = "after"
      in    = "body" # query (default) | body

      # HubSpot pages a search through 10,000 results at most: restart the
      # query from the last hs_lastmodifieddate read before that.
      restart_from = "timestamp(record.properties.hs_lastmodifieddate)"
      max_results  = 10000

      # stop      = "len(records) == 0" # any style: true makes this page the last
      # max_pages = 500                 # any style: cap one run
    }

    # At most 4 requests in any second (HubSpot's search limit).
    rate_limit {
      requests = 4
      per      = "1s"
      burst    = 1
    }

    # 429, 408, 423, 5xx, timeouts and dropped connections.
    retry {
      attempts    = 6    # the first try included
      max_wait    = "2m" # total waiting for one request, Retry-After included
      backoff     = "1s" # first wait without Retry-After; doubles, with jitter
      max_backoff = "30s"
    }
  }

  incremental {
    cursor = "updated_at"
  }

  map {
    id         = "int(record.id)"
    name       = "nullif(trim(record.properties?.dealname), '')"
    amount     = "decimal(record.properties?.amount)"
    stage      = "nullif(record.properties?.dealstage, '')"
    updated_at = "timestamp(record.properties?.hs_lastmodifieddate)"
  }

  sink "warehouse" {
    table = "hubspot.deals"
    key   = ["id"]
  }
}
