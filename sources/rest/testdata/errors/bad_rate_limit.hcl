pipeline "t" {
  system = "test"
  entity = "t"

  source "rest" {
    url = "https://api.example.com/items"
    rate_limit {
      requests = 0    # ERROR: Invalid requests
      per      = "10" # ERROR: Invalid duration
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
