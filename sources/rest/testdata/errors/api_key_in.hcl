pipeline "t" {
  system = "test"
  entity = "t"

  source "rest" {
    url = "https://api.example.com/items"
    auth "api_key" {
      name  = "key"
      value = "x"
      in    = "cookie" # ERROR: Invalid api_key location
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
