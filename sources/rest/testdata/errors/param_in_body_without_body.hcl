pipeline "t" {
  system = "test"
  entity = "t"

  source "rest" {
    url = "https://api.example.com/items"
    paginate "offset" {
      in = "body" # ERROR: No body to put the parameter in
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
