pipeline "deletes_broken" {
  system = "test"
  entity = "things"
  source "inline" {
    records = []
  }
  map {
    id      = "int(record.id)"
    deleted = "nope(record.gone)" # ERROR: Unknown name
  }
  sink "warehouse" {
    table            = "things"
    key              = ["id"]
    deletes          = "sometimes" # ERROR: Invalid deletes
    max_delete_share = "ten" # ERROR: Invalid max_delete_share
  }
}
