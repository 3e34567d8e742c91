pipeline "t" {
  system = "test"
  entity = "t"

  source "rest" {
    url = "https://api.example.com/items"
    paginate "cursor" {
      next  = "body.paging.next.after + 1 > true" # ERROR: Type error in expression
      param = "after"
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
