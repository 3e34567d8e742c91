pipeline "t" {
  system = "test"
  entity = "t"

  source "rest" {
    url     = "https://api.example.com/items"
    timeout = "soon" # ERROR: Invalid duration
  }

  map {
    id = "record.id"
  }

  sink "warehouse" {
    table = "t"
    mode  = "append"
  }
}
