# Test cases for genius_prospect_source.hcl: `etl test pipelines/`.
# The MySQL source delivers DATETIME as text, INT as integers, NULL as null
# (sources/mysql/README.md, "Values").

test "a prospect source maps every field" {
  record = {
    id                  = 60391
    prospect_id         = 51230
    marketing_source_id = 412
    source_date         = "2024-02-24 13:20:00"
    notes               = "Signed up at booth for free roof inspection."
    add_user_id         = 117
    add_date            = "2024-02-24 18:02:10"
    updated_at          = "2024-02-26 09:15:00"
    source_user_id      = 305
  }
  want = {
    id                  = 60391
    prospect_id         = 51230
    marketing_source_id = 412
    source_date         = "2024-02-24T13:20:00Z"
    notes               = "Signed up at booth for free roof inspection."
    add_user_id         = 117
    add_date            = "2024-02-24T18:02:10Z"
    updated_at          = "2024-02-26T09:15:00Z"
    source_user_id      = 305
  }
}

test "a prospect source never updated, without a source user" {
  record = {
    id                  = 60392
    prospect_id         = 51231
    marketing_source_id = 413
    source_date         = null
    notes               = ""
    add_date            = "2024-05-20 17:05:00"
    updated_at          = null
    source_user_id      = null
  }
  want = {
    source_date    = null
    notes          = null
    add_date       = "2024-05-20T17:05:00Z"
    updated_at     = null
    source_user_id = null
  }
}

test "notes keep their spaces" {
  record = {
    id    = 60393
    notes = " referred by neighbor at 1432 "
  }
  want = { notes = " referred by neighbor at 1432 " }
}

test "a prospect source without an id is rejected" {
  record = {
    id          = null
    prospect_id = 51230
  }
  reject {
    check  = "map id"
    reason = "key column id is null"
  }
}

test "a source date that is not a timestamp is rejected" {
  record = {
    id          = 60394
    source_date = "spring show"
  }
  reject {
    check = "map source_date"
  }
}

test "a marketing source id that is not an integer is rejected" {
  record = {
    id                  = 60395
    marketing_source_id = "web"
  }
  reject {
    check  = "map marketing_source_id"
    reason = "int: \"web\" is not an integer"
  }
}
