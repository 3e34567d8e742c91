pipeline "t" {
  system = "test"
  entity = "t"

  source "rest" {
    url    = "https://api.example.com/search"
    method = "POST"
    body   = { limit = 100 }
    paginate "cursor" {
      next         = "body.paging?.next?.after"
      param        = "after"
      in           = "body"
      restart_from = "record.updatedAt" # ERROR: restart_from needs a key
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
