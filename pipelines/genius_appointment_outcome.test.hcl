# Test cases for genius_appointment_outcome.hcl: `etl test pipelines/`.
# The MySQL source delivers DATETIME as text, INT and TINYINT as integers,
# NULL as null (sources/mysql/README.md, "Values").

test "an outcome maps every field" {
  record = {
    id         = 3
    type_id    = 1
    label      = " Sold "
    is_active  = 1
    created_at = "2016-04-11 12:00:00"
    updated_at = "2023-10-02 14:30:00"
  }
  want = {
    id         = 3
    type_id    = 1
    label      = "Sold"
    is_active  = true
    created_at = "2016-04-11T12:00:00Z"
    updated_at = "2023-10-02T14:30:00Z"
  }
}

test "a retired outcome never updated" {
  record = {
    id         = 7
    type_id    = 2
    label      = "Reset - One Leg"
    is_active  = 0
    created_at = "2017-01-05 09:00:00"
    updated_at = null
  }
  want = {
    label      = "Reset - One Leg"
    is_active  = false
    created_at = "2017-01-05T09:00:00Z"
    updated_at = null
  }
}

test "blank label and null type are null" {
  record = {
    id        = 8
    type_id   = null
    label     = "  "
    is_active = null
  }
  want = {
    type_id   = null
    label     = null
    is_active = null
  }
}

test "an outcome without an id is rejected" {
  record = {
    id    = null
    label = "No Sale"
  }
  reject {
    check  = "map id"
    reason = "key column id is null"
  }
}

test "an is_active flag that is not 0 or 1 is rejected" {
  record = {
    id        = 9
    is_active = -1
  }
  reject {
    check = "map is_active"
  }
}

test "an updated_at that is not a timestamp is rejected" {
  record = {
    id         = 10
    updated_at = "10/02/2023 2:30 PM"
  }
  reject {
    check = "map updated_at"
  }
}
