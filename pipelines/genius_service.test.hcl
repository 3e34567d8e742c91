# Test cases for genius_service.hcl: `etl test pipelines/`.
# The MySQL source delivers DATETIME as text, INT and TINYINT as integers,
# NULL as null (sources/mysql/README.md, "Values").

test "a service maps every field" {
  record = {
    id               = 1
    label            = " Roofing "
    is_active        = 1
    is_lead_required = 1
    order_number     = 10
    created_at       = "2016-04-11 12:00:00"
    updated_at       = "2023-03-01 10:00:00"
  }
  want = {
    id               = 1
    label            = "Roofing"
    is_active        = true
    is_lead_required = true
    order_number     = 10
    created_at       = "2016-04-11T12:00:00Z"
    updated_at       = "2023-03-01T10:00:00Z"
  }
}

test "a retired service never updated" {
  record = {
    id               = 6
    label            = "Gutter Guards"
    is_active        = 0
    is_lead_required = 0
    order_number     = null
    created_at       = "2018-05-14 09:30:00"
    updated_at       = null
  }
  want = {
    is_active        = false
    is_lead_required = false
    order_number     = null
    updated_at       = null
  }
}

test "a blank label is null" {
  record = {
    id    = 7
    label = ""
  }
  want = { label = null }
}

test "a service without an id is rejected" {
  record = {
    id    = null
    label = "Windows"
  }
  reject {
    check  = "map id"
    reason = "key column id is null"
  }
}

test "an is_lead_required flag that is not 0 or 1 is rejected" {
  record = {
    id               = 8
    is_lead_required = 2
  }
  reject {
    check = "map is_lead_required"
  }
}

test "an updated_at that is not a timestamp is rejected" {
  record = {
    id         = 9
    updated_at = "0"
  }
  reject {
    check  = "map updated_at"
    reason = "timestamp: \"0\" is an epoch number whose unit its size cannot tell (below 1e11, seconds and milliseconds both give a plausible date); declare it: timestamp(x, 's'), timestamp(x, 'ms') or timestamp_ms(x) (use nullif for a 0 that means unset)"
  }
}
