pipeline "t" {
  system = "test"
  entity = "t"

  source "rest" {
    url   = "https://api.example.com/items"
    query = { starting_after = "{{ cursor }}" }
    paginate "cursor" {
      next = "body.data[-1]?.id"
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
