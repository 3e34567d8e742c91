pipeline "no_key" {
  system = "test"
  entity = "things"
  source "inline" {
    records = []
  }
  map {
    id = "int(record.id)"
  }
  sink "warehouse" { # ERROR: Missing key
    table = "things"
  }
}
