pipeline "deleted_append" {
  system = "test"
  entity = "things"
  source "inline" {
    records = []
  }
  map { # ERROR: Deleted needs an upsert
    id      = "int(record.id)"
    deleted = "record.gone == true"
  }
  sink "warehouse" {
    table = "things"
    mode  = "append"
  }
}
