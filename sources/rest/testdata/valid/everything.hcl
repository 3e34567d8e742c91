pipeline "t" {
  system = "test"
  entity = "t"

  source "rest" {
    url     = "https://api.example.com/{{ page > 0 ? 'items' : 'x' }}"
    method  = "POST"
    query   = { limit = 100, ids = [1, 2, 3], since = "{{ since }}", on = true }
    headers = { Accept = "application/json", X-Page = "page {{ page }}" }
    body    = { filter = { gte = "{{ since }}" }, list = [{ a = 1.5 }] }
    timeout = "10s"
    records = "data.items"
    key     = "string(record.id)"
    ordered = true
    auth "oauth2" {
      token_url     = "https://auth.example.com/token"
      client_id     = "id"
      client_secret = env("SECRET", "s")
      scopes        = ["a", "b"]
      client_auth   = "basic"
    }
    paginate "offset" {
      param     = "skip"
      in        = "body"
      limit     = 100
      start     = 0
      total     = "body.total"
      stop      = "len(records) == 0"
      max_pages = 1000
    }
    rate_limit {
      requests = 10
      per      = "1s"
      burst    = 2
    }
    retry {
      attempts    = 3
      max_wait    = "30s"
      backoff     = "100ms"
      max_backoff = "5s"
    }
  }

  map {
    id = "record.id"
  }

  sink "warehouse" {
    table = "t"
    mode  = "append"
  }
}
