pipeline "typo" {
  system = "test"
  entity = "things"
  source "inline" {
    records = []
  }
  map {
    id = "int(record.id)"
  }
  sink "warehouse" { # ERROR: Missing required argument
    tabel = "things" # ERROR: Unsupported argument
    key   = ["id"]
  }
}
