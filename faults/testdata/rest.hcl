# The campaign's REST pipeline: a HubSpot-like contacts list sorted by
# updated time (the test's fake server at FAULTS_API_URL), read from the
# saved cursor inclusive with cursor paging; ordered, so the cursor is saved
# with every batch. The retry budget rides out a 503 of 40 s or more.
pipeline "faults_rest" {
  system     = "faults"
  entity     = "contacts_rest"
  batch_size = 500

  source "rest" {
    url     = "${env("FAULTS_API_URL", "http://127.0.0.1:9")}/crm/v3/objects/contacts"
    query   = { limit = 100, since = "{{ since == nil ? nil : timestamp(since).UnixMilli() }}" }
    records = "results"
    key     = "record.id"
    ordered = true
    timeout = "5s"

    auth "bearer" {
      token = env("FAULTS_TOKEN")
    }

    paginate "cursor" {
      next  = "body.paging?.next?.after"
      param = "after"
    }

    retry {
      attempts    = 30
      max_wait    = "1m"
      backoff     = "200ms"
      max_backoff = "2s"
    }
  }

  incremental {
    cursor = "updated_at"
  }

  map {
    id         = "int(record.id)"
    name       = "record.properties.name"
    score      = "int(record.properties.score)"
    note       = "record.properties.note"
    updated_at = "timestamp(record.updatedAt)"
  }

  sink "warehouse" {
    url   = env("FAULTS_WAREHOUSE_URL")
    table = "faults_rest"
    key   = ["id"]
  }
}
