pipeline "deletes_append" {
  system = "test"
  entity = "things"
  source "inline" {
    records = []
  }
  map {
    id = "int(record.id)"
  }
  sink "warehouse" {
    table            = "things"
    mode             = "append"
    deletes          = "hard" # ERROR: Deletes need an upsert
    max_delete_share = 1.5 # ERROR: Invalid max_delete_share
  }
}
