pipeline "t" {
  system = "test"
  entity = "t"

  source "rest" {                          # ERROR: Missing required argument
    urll = "https://api.example.com/items" # ERROR: Unsupported argument
  }

  map {
    id = "record.id"
  }

  sink "warehouse" {
    table = "t"
    mode  = "append"
  }
}
