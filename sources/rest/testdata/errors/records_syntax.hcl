pipeline "t" {
  system = "test"
  entity = "t"

  source "rest" {
    url     = "https://api.example.com/items"
    records = "body.results[" # ERROR: Syntax error in expression
  }

  map {
    id = "record.id"
  }

  sink "warehouse" {
    table = "t"
    mode  = "append"
  }
}
