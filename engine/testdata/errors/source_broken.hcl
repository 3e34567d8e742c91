# A source attribute holding a broken expression.
pipeline "source_broken" {
  system = "test"
  entity = "things"
  source "inline" {
    records = [{ id = "1" }]
    key     = "fields.id +" # ERROR: Syntax error in expression
  }
  map {
    id = "int(record.id)"
  }
  incremental {
    cursor = "id"
  }
  sink "warehouse" {
    table = "t"
    key   = ["id"]
  }
}
