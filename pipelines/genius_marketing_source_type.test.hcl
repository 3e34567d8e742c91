# Test cases for genius_marketing_source_type.hcl: `etl test pipelines/`.
# The MySQL source delivers DATETIME as text, INT and TINYINT as integers,
# NULL as null (sources/mysql/README.md, "Values").

test "a marketing source type maps every field" {
  record = {
    id          = 4
    label       = " Home Show "
    description = "Home & garden shows, fairs and expos"
    is_active   = 1
    list_order  = 30
    created_at  = "2016-04-11 12:00:00"
    updated_at  = "2022-08-19 11:05:00"
  }
  want = {
    id          = 4
    label       = "Home Show"
    description = "Home & garden shows, fairs and expos"
    is_active   = true
    list_order  = 30
    created_at  = "2016-04-11T12:00:00Z"
    updated_at  = "2022-08-19T11:05:00Z"
  }
}

test "a retired type never updated, without description or order" {
  record = {
    id          = 9
    label       = "Yellow Pages"
    description = ""
    is_active   = 0
    list_order  = null
    created_at  = "2016-04-11 12:00:00"
    updated_at  = null
  }
  want = {
    description = null
    is_active   = false
    list_order  = null
    updated_at  = null
  }
}

test "a type without an id is rejected" {
  record = {
    id    = null
    label = "Canvassing"
  }
  reject {
    check  = "map id"
    reason = "key column id is null"
  }
}

test "a list order that is not an integer is rejected" {
  record = {
    id         = 10
    list_order = 2.5
  }
  reject {
    check  = "map list_order"
    reason = "int: \"2.5\" is not an integer"
  }
}

test "a created_at that is not a timestamp is rejected" {
  record = {
    id         = 11
    created_at = "long ago"
  }
  reject {
    check = "map created_at"
  }
}
