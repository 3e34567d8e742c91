pipeline "bad_schedule" {
  system       = "test"
  entity       = "things"
  schedule     = "*/15 * * *" # ERROR: Invalid schedule
  timeout      = "soon"       # ERROR: Invalid timeout
  max_attempts = 0            # ERROR: Invalid max_attempts
  depends_on   = ["bad_schedule"] # ERROR: Pipeline depends on itself
  source "inline" {
    records = []
  }
  map {
    id = "int(record.id)"
  }
  sink "warehouse" {
    table = "things"
    key   = ["id"]
  }
}
