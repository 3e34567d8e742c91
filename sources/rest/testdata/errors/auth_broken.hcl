# A broken HCL expression in an auth block, and broken cursor paging expressions.
pipeline "t" {
  system = "test"
  entity = "t"

  source "rest" {
    url = "https://api.example.com/items"
    key = "record.id"
    auth "bearer" {
      token = envv("TOKEN") # ERROR: Call to unknown function # ERROR: Unsuitable value type
    }
    paginate "cursor" {
      next         = "body.next"
      param        = "after"
      total        = "body.total +" # ERROR: Syntax error in expression
      restart_from = "record.updated_at >" # ERROR: Syntax error in expression
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
