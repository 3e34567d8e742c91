# A typo in the incremental cursor is an error at the cursor, not a panic.
pipeline "incremental_typo" {
  system = "test"
  entity = "things"
  source "inline" {
    records = []
  }
  map {
    id         = "int(record.id)"
    updated_at = "timestamp(record.updated_at)"
  }
  incremental {
    cursor = "updatd_at" # ERROR: Unknown name
  }
  sink "warehouse" {
    table = "t"
    key   = ["id"]
  }
}
