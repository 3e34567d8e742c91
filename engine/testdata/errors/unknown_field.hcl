pipeline "unknown_field" {
  system = "test"
  entity = "things"
  source "inline" {
    fields  = ["id", "email"]
    records = []
  }
  map {
    id    = "int(record.id)"
    email = "email(record.emial)" # ERROR: Unknown record field
  }
  sink "warehouse" {
    table = "things"
    key   = ["id"]
  }
}
