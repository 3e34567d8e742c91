pipeline "replace_incremental" {
  system = "test"
  entity = "things"
  source "inline" {
    records = []
  }
  incremental {
    cursor = "id"
  }
  map {
    id = "int(record.id)"
  }
  sink "warehouse" {
    table = "things"
    mode  = "replace" # ERROR: Replace mode with an incremental cursor
  }
}
