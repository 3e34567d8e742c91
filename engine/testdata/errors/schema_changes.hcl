pipeline "schema_changes" {
  system         = "test"
  entity         = "things"
  schema_changes = "widest" # ERROR: Invalid schema_changes
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
