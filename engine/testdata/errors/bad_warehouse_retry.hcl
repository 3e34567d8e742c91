pipeline "bad_retry" {
  system          = "test"
  entity          = "things"
  warehouse_retry = "forever" # ERROR: Invalid warehouse_retry
  source "inline" {
    records = []
  }
  map {
    id = "int(record.id)"
  }
  sink "warehouse" {
    table = "things"
    key   = ["id"]
  }
}
