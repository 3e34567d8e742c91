pipeline "type_error" {
  system = "test"
  entity = "things"
  source "inline" {
    records = []
  }
  map {
    id   = "int(record.id)"
    name = "trim(record.name)"
  }
  validate "long_name" {
    check = "name + 1 > 3" # ERROR: Type error in expression
  }
  validate "not_bool" {
    check = "id + 1" # ERROR: Type error in expression
  }
  sink "warehouse" {
    table = "things"
    key   = ["id"]
  }
}
