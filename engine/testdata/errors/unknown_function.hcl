pipeline "unknown_fn" {
  system = "test"
  entity = "things"
  source "inline" {
    records = []
  }
  map {
    id    = "int(record.id)"
    email = "emial(record.email)" # ERROR: Unknown name
  }
  sink "warehouse" {
    table = "things"
    key   = ["id"]
  }
}
