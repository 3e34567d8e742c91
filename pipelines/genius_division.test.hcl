# Test cases for genius_division.hcl: `etl test pipelines/`.
# The MySQL source delivers DATETIME as text, INT and TINYINT as integers,
# NULL as null (sources/mysql/README.md, "Values").

test "a division maps every field" {
  record = {
    id                   = 3
    group_id             = 1
    region_id            = 2
    label                = " Columbus "
    abbreviation         = "COL"
    is_utility           = 0
    is_corp              = 0
    is_omniscient        = 0
    is_inactive          = 0
    account_scheduler_id = 131
    created_at           = "2016-04-11 12:00:00"
    updated_at           = "2024-02-19 15:27:41"
  }
  want = {
    id                   = 3
    group_id             = 1
    region_id            = 2
    label                = "Columbus"
    abbreviation         = "COL"
    is_utility           = false
    is_corp              = false
    is_omniscient        = false
    is_inactive          = false
    account_scheduler_id = 131
    created_at           = "2016-04-11T12:00:00Z"
    updated_at           = "2024-02-19T15:27:41Z"
  }
}

test "the corporate division sees everything" {
  record = {
    id            = 1
    group_id      = 1
    label         = "Corporate"
    abbreviation  = "CORP"
    is_utility    = 1
    is_corp       = 1
    is_omniscient = 1
    is_inactive   = 0
  }
  want = {
    is_utility    = true
    is_corp       = true
    is_omniscient = true
    is_inactive   = false
  }
}

test "null flags and ids stay null" {
  record = {
    id                   = 9
    region_id            = null
    is_utility           = null
    is_inactive          = null
    account_scheduler_id = null
    created_at           = "2023-01-09 09:00:00"
    updated_at           = null
  }
  want = {
    region_id            = null
    is_utility           = null
    is_inactive          = null
    account_scheduler_id = null
    created_at           = "2023-01-09T09:00:00Z"
    updated_at           = null
  }
}

test "blank text is null" {
  record = {
    id           = 10
    label        = ""
    abbreviation = "  "
  }
  want = {
    label        = null
    abbreviation = null
  }
}

test "a division without an id is rejected" {
  record = {
    id    = null
    label = "Dayton"
  }
  reject {
    check  = "map id"
    reason = "key column id is null"
  }
}

test "an is_inactive flag that is not 0 or 1 is rejected" {
  record = {
    id          = 11
    is_inactive = 9
  }
  reject {
    check = "map is_inactive"
  }
}

test "an updated_at that is not a timestamp is rejected" {
  record = {
    id         = 12
    updated_at = "2024-02-30 00:00:00"
  }
  reject {
    check  = "map updated_at"
    reason = "timestamp: \"2024-02-30 00:00:00\" is not a valid date-time (a field is out of range)"
  }
}
