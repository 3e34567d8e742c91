pipeline "t" {
  system = "test"
  entity = "t"

  source "rest" {
    url = "https://api.example.com/items"
    paginate "page" {
      next = "body.next" # ERROR: Attribute not used by this paginate style
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
