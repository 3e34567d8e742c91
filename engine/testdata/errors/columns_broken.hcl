# Broken expressions in a sink's columns block, and a column whose own
# expression failed (reported once, at the map).
pipeline "columns_broken" {
  system = "test"
  entity = "things"
  source "inline" {
    records = []
  }
  map {
    id   = "int(record.id)"
    name = "trim(record.name)"
    bad  = "trim(record.name" # ERROR: Syntax error in expression
  }
  sink "warehouse" {
    table = "t"
    key   = ["id"]
    columns {
      name = text # ERROR: Variables not allowed # ERROR: Unsuitable value type
      id   = upper("int") # ERROR: Function calls not allowed # ERROR: Unsuitable value type
      bad  = "text"
    }
  }
}
