pipeline "scheduled" {
  system       = "test"
  entity       = "things"
  timezone     = "America/New_York"
  schedule     = "30 6 * * 1-5"
  enabled      = false
  depends_on   = ["lookups"]
  timeout      = "20m"
  max_attempts = 5
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
