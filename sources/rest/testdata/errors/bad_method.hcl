pipeline "t" {
  system = "test"
  entity = "t"

  source "rest" {
    url    = "https://api.example.com/items"
    method = "DELETE" # ERROR: Invalid method
  }

  map {
    id = "record.id"
  }

  sink "warehouse" {
    table = "t"
    mode  = "append"
  }
}
