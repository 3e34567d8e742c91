# A cursor expression cut short is a syntax error at the cursor.
pipeline "incremental_syntax" {
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
    cursor = "updated_at +" # ERROR: Syntax error in expression
  }
  sink "warehouse" {
    table = "t"
    key   = ["id"]
    mode  = "replace" # ERROR: Replace mode with an incremental cursor
  }
}
