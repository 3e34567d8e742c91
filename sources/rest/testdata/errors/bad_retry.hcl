pipeline "t" {
  system = "test"
  entity = "t"

  source "rest" {
    url = "https://api.example.com/items"
    retry {
      attempts = 0 # ERROR: Invalid attempts
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
