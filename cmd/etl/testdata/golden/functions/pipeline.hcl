# Each library function on values as CRMs send them; rows 2 to 4 are
# rejected by a different function each.
pipeline "golden_functions" {
  system   = "test"
  entity   = "functions"
  timezone = "America/New_York"

  source "csv" {
    path = "input.csv"
  }

  map {
    id     = "int(record.id)"
    amount = "decimal(record.amount)"
    when   = "timestamp(record.when)"
    day    = "date(record.when)"
    flag   = "bool(record.flag)"
    tags   = "json(record.tags)"
    email  = "email(record.email)"
    phone  = "phone(record.phone)"
    hash   = "sha256(string(record.id))"
    digits = "regex_replace(record.phone, '[^0-9]', '')"
  }

  validate "non_negative" {
    check   = "amount >= 0"
    message = "amount is negative"
  }

  sink "warehouse" {
    table = "golden_functions"
    key   = ["id"]
  }
}
