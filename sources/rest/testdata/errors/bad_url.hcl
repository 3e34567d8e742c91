pipeline "t" {
  system = "test"
  entity = "t"

  source "rest" {
    url = "api.example.com/items" # ERROR: Invalid URL
  }

  map {
    id = "record.id"
  }

  sink "warehouse" {
    table = "t"
    mode  = "append"
  }
}
