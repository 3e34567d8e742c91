# Test cases for genius_quote.hcl: `etl test pipelines/`.
# The MySQL source delivers DECIMAL, DATE and DATETIME as text, INT as
# integers, NULL as null (sources/mysql/README.md, "Values"). amount is money,
# kept exact with its scale.

test "a quote maps every field" {
  record = {
    id               = 70215
    prospect_id      = 51230
    appointment_id   = 88412
    job_id           = 40188
    client_cid       = 12
    service_id       = 1
    label            = " Roof Replacement - Good "
    description      = "Tear off 2 layers, 28 sq GAF Timberline HDZ, ridge vent, ice & water shield."
    amount           = "18450.00"
    expire_date      = "2024-08-14"
    status_id        = 3
    contract_file_id = 99120
    estimate_file_id = 99119
    add_user_id      = 214
    add_date         = "2024-07-15 20:48:03"
    updated_at       = "2024-07-15 21:02:37"
  }
  want = {
    id               = 70215
    prospect_id      = 51230
    appointment_id   = 88412
    job_id           = 40188
    client_cid       = 12
    service_id       = 1
    label            = "Roof Replacement - Good"
    description      = "Tear off 2 layers, 28 sq GAF Timberline HDZ, ridge vent, ice & water shield."
    amount           = "18450.00"
    expire_date      = "2024-08-14T00:00:00Z"
    status_id        = 3
    contract_file_id = 99120
    estimate_file_id = 99119
    add_user_id      = 214
    add_date         = "2024-07-15T20:48:03Z"
    updated_at       = "2024-07-15T21:02:37Z"
  }
}

test "an open quote has no job, no contract and no expiry" {
  record = {
    id               = 70216
    prospect_id      = 51231
    appointment_id   = 88413
    job_id           = null
    label            = "Siding - Better"
    amount           = "23999.99"
    expire_date      = null
    contract_file_id = null
    add_date         = "2024-07-16 19:10:00"
    updated_at       = null
  }
  want = {
    job_id           = null
    amount           = "23999.99"
    expire_date      = null
    contract_file_id = null
    updated_at       = null
  }
}

test "an amount keeps its exact digits" {
  record = {
    id     = 70217
    amount = "1234567890.05"
  }
  want = { amount = "1234567890.05" }
}

test "a zero amount is zero, not null" {
  record = {
    id     = 70218
    amount = "0.00"
  }
  want = { amount = "0.00" }
}

test "a null amount is null" {
  record = {
    id     = 70219
    amount = null
  }
  want = { amount = null }
}

test "blank text is null" {
  record = {
    id          = 70220
    label       = ""
    description = "   "
  }
  want = {
    label       = null
    description = null
  }
}

test "a quote without an id is rejected" {
  record = {
    id     = null
    amount = "500.00"
  }
  reject {
    check  = "map id"
    reason = "key column id is null"
  }
}

test "an amount that is not a number is rejected" {
  record = {
    id     = 70221
    amount = "$18,450.00"
  }
  reject {
    check  = "map amount"
    reason = "decimal: \"$18,450.00\" is not a decimal number"
  }
}

test "an expire_date that is not a date is rejected" {
  record = {
    id          = 70222
    expire_date = "2024-02-30"
  }
  reject {
    check  = "map expire_date"
    reason = "date: \"2024-02-30\" is not a valid date-time (a field is out of range)"
  }
}

test "an updated_at that is not a timestamp is rejected" {
  record = {
    id         = 70223
    updated_at = "yesterday"
  }
  reject {
    check = "map updated_at"
  }
}
