# Test cases for genius_job.hcl: `etl test pipelines/`.
# The MySQL source delivers DECIMAL, DATE and DATETIME as text, INT as
# integers, NULL as null (sources/mysql/README.md, "Values").

test "a job maps every field" {
  record = {
    id                 = 40188
    client_cid         = 12
    prospect_id        = 51230
    division_id        = 3
    user_id            = 214
    production_user_id = 305
    contract_number    = " COL-2024-0715-01 "
    contract_date      = "2024-07-15"
    contract_amount    = "18450.00"
    sold_user_id       = 214
    sold_date          = "2024-07-15"
    start_date         = "2024-08-05"
    end_date           = "2024-08-07"
    add_date           = "2024-07-15 21:05:12"
    cancel_date        = null
    updated_at         = "2024-08-07 16:40:00"
  }
  want = {
    id                 = 40188
    client_cid         = 12
    prospect_id        = 51230
    division_id        = 3
    user_id            = 214
    production_user_id = 305
    contract_number    = "COL-2024-0715-01"
    contract_date      = "2024-07-15T00:00:00Z"
    contract_amount    = "18450.00"
    sold_user_id       = 214
    sold_date          = "2024-07-15T00:00:00Z"
    start_date         = "2024-08-05T00:00:00Z"
    end_date           = "2024-08-07T00:00:00Z"
    add_date           = "2024-07-15T21:05:12Z"
    cancel_date        = null
    updated_at         = "2024-08-07T16:40:00Z"
  }
}

test "a cancelled job keeps its cancel date" {
  record = {
    id              = 40189
    contract_number = "IND-2024-0602-03"
    contract_amount = "9875.50"
    sold_date       = "2024-06-02"
    start_date      = null
    end_date        = null
    cancel_date     = "2024-06-04"
    add_date        = "2024-06-02 20:11:00"
    updated_at      = "2024-06-04 10:00:00"
  }
  want = {
    contract_amount = "9875.50"
    start_date      = null
    end_date        = null
    cancel_date     = "2024-06-04T00:00:00Z"
  }
}

test "a job never updated keeps a null updated_at" {
  record = {
    id         = 40190
    add_date   = "2024-06-10 08:00:00"
    updated_at = null
  }
  want = {
    add_date   = "2024-06-10T08:00:00Z"
    updated_at = null
  }
}

test "a blank contract number and a null amount are null" {
  record = {
    id              = 40191
    contract_number = "  "
    contract_amount = null
  }
  want = {
    contract_number = null
    contract_amount = null
  }
}

test "a job without an id is rejected" {
  record = {
    id              = null
    contract_number = "COL-2024-0715-02"
  }
  reject {
    check  = "map id"
    reason = "key column id is null"
  }
}

test "a contract amount that is not a number is rejected" {
  record = {
    id              = 40192
    contract_amount = "18,450.00"
  }
  reject {
    check  = "map contract_amount"
    reason = "decimal: \"18,450.00\" is not a decimal number"
  }
}

test "a start date that is not a date is rejected" {
  record = {
    id         = 40193
    start_date = "TBD"
  }
  reject {
    check = "map start_date"
  }
}

test "an add_date that is not a timestamp is rejected" {
  record = {
    id       = 40194
    add_date = "2024-06-31 08:00:00"
  }
  reject {
    check  = "map add_date"
    reason = "timestamp: \"2024-06-31 08:00:00\" is not a valid date-time (a field is out of range)"
  }
}
