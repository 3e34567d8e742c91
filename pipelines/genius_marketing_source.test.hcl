# Test cases for genius_marketing_source.hcl: `etl test pipelines/`.
# The MySQL source delivers DATE and DATETIME as text, INT and TINYINT as
# integers, NULL as null (sources/mysql/README.md, "Values").

test "a marketing source maps every field" {
  record = {
    id                         = 412
    type_id                    = 4
    label                      = " Indy Home & Garden Show 2024 "
    description                = "Booth 1120, Indiana State Fairgrounds, 3 days."
    start_date                 = "2024-02-23"
    end_date                   = "2024-03-03"
    add_user_id                = 117
    add_date                   = "2024-01-15 10:00:00"
    is_active                  = 1
    is_allow_lead_modification = 0
    updated_at                 = "2024-03-04 08:12:55"
  }
  want = {
    id                         = 412
    type_id                    = 4
    label                      = "Indy Home & Garden Show 2024"
    description                = "Booth 1120, Indiana State Fairgrounds, 3 days."
    start_date                 = "2024-02-23T00:00:00Z"
    end_date                   = "2024-03-03T00:00:00Z"
    add_user_id                = 117
    add_date                   = "2024-01-15T10:00:00Z"
    is_active                  = true
    is_allow_lead_modification = false
    updated_at                 = "2024-03-04T08:12:55Z"
  }
}

test "an open-ended source never updated" {
  record = {
    id                         = 413
    type_id                    = 2
    label                      = "Website - Free Estimate Form"
    description                = ""
    start_date                 = "2019-06-01"
    end_date                   = null
    add_date                   = "2019-06-01 09:00:00"
    is_active                  = 1
    is_allow_lead_modification = 1
    updated_at                 = null
  }
  want = {
    description                = null
    end_date                   = null
    is_allow_lead_modification = true
    add_date                   = "2019-06-01T09:00:00Z"
    updated_at                 = null
  }
}

test "a source without an id is rejected" {
  record = {
    id    = null
    label = "Door Hangers"
  }
  reject {
    check  = "map id"
    reason = "key column id is null"
  }
}

test "an end date that is not a date is rejected" {
  record = {
    id       = 414
    end_date = "ongoing"
  }
  reject {
    check = "map end_date"
  }
}

test "an add_date that is not a timestamp is rejected" {
  record = {
    id       = 415
    add_date = "2024-01-15 10:00:00 EST"
  }
  reject {
    check = "map add_date"
  }
}

test "a lead-modification flag that is not 0 or 1 is rejected" {
  record = {
    id                         = 416
    is_allow_lead_modification = 5
  }
  reject {
    check = "map is_allow_lead_modification"
  }
}
