# Every problem in one file is reported, not just the first.
pipeline "many" {
  system     = "test"
  entity     = "things"
  batch_size = 0 # ERROR: Invalid batch size
  timezone   = "Mars/Olympus" # ERROR: Unknown timezone
  source "inlin" { # ERROR: Unknown source kind
  }
  map {
    id   = "int(record.id" # ERROR: Syntax error in expression
    row  = "1" # ERROR: Reserved column name
    name = "record.name"
  }
  validate "x" {
    check   = "name != nil"
    on_fail = "rejct" # ERROR: Invalid on_fail
  }
  sink "warehouse" {
    table = "x; drop table y" # ERROR: Invalid table name
    key   = ["nam"] # ERROR: Unknown key column
    mode  = "upsrt" # ERROR: Invalid sink mode
    columns {
      nme = "text" # ERROR: Unknown column
      name = "varchar" # ERROR: Unknown column type
    }
  }
}
