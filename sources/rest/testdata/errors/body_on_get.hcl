pipeline "t" {
  system = "test"
  entity = "t"

  source "rest" {
    url  = "https://api.example.com/items"
    body = { a = 1 } # ERROR: Body on a GET request
  }

  map {
    id = "record.id"
  }

  sink "warehouse" {
    table = "t"
    mode  = "append"
  }
}
