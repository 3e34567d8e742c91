pipeline "people" {
  system = "test"
  entity = "people"
  source "csv" {
    path = "people.csv"
  }
  map {
    id    = "int(record.id)"
    email = "email(record.email)"
    tags  = "json(record.tags)"
  }
  validate "has_email" {
    check = "email != nil"
  }
  sink "warehouse" {
    table = "people"
    key   = ["id"]
  }
}
