# The secrets test's REST pipeline: a bearer token and an HMAC key sent as
# headers, both from env(); a tight retry budget so the failures it is put
# through end quickly. Neither value may appear in any output, log, history
# row or reject.
pipeline "faults_secrets_rest" {
  system      = "faults"
  entity      = "secrets_rest"
  batch_size  = 100
  max_rejects = 100

  source "rest" {
    url     = "${env("FAULTS_API_URL", "http://127.0.0.1:9")}/crm/v3/objects/contacts"
    query   = { limit = 100 }
    records = "results"
    key     = "record.id"
    timeout = "500ms"

    auth "headers" {
      Authorization = "Bearer ${env("FAULTS_TOKEN")}"
      X-Hmac-Key    = env("FAULTS_HMAC")
    }

    paginate "cursor" {
      next  = "body.paging?.next?.after"
      param = "after"
    }

    retry {
      attempts    = 2
      max_wait    = "2s"
      backoff     = "50ms"
      max_backoff = "100ms"
    }
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
    table = "faults_secrets"
    key   = ["id"]
  }
}
