# Test cases for genius_user_data.hcl: `etl test pipelines/`.
# The MySQL source delivers DATE and DATETIME as text, INT and TINYINT as
# integers, NULL as null (sources/mysql/README.md, "Values").
# primary_user_id comes from the LEFT JOIN on users_userassociations.

test "a user maps every field" {
  record = {
    user_id                       = 214
    division_id                   = 3
    title_id                      = 7
    manager_user_id               = 118
    first_name                    = " Kevin "
    first_name_alt                = "Kev"
    last_name                     = "Dorsey"
    email                         = " kdorsey@buckeyeexteriors.com "
    personal_email                = "kevin.dorsey82@gmail.com"
    birth_date                    = "1982-11-03"
    gender_id                     = 1
    marital_status_id             = 2
    time_zone_name                = "America/New_York"
    hired_on                      = "2019-03-18"
    start_date                    = "2019-03-25"
    add_user_id                   = 1
    add_datetime                  = "2019-03-18 10:22:05"
    updated_at                    = "2024-07-01 08:00:00"
    is_inactive                   = 0
    inactive_on                   = null
    inactive_reason_id            = null
    inactive_reason_other         = null
    inactive_transfer_division_id = null
    user_associations_id          = 41
    primary_user_id               = 201
  }
  want = {
    user_id                       = 214
    division_id                   = 3
    title_id                      = 7
    manager_user_id               = 118
    first_name                    = "Kevin"
    first_name_alt                = "Kev"
    last_name                     = "Dorsey"
    email                         = "kdorsey@buckeyeexteriors.com"
    personal_email                = "kevin.dorsey82@gmail.com"
    birth_date                    = "1982-11-03T00:00:00Z"
    gender_id                     = 1
    marital_status_id             = 2
    time_zone_name                = "America/New_York"
    hired_on                      = "2019-03-18T00:00:00Z"
    start_date                    = "2019-03-25T00:00:00Z"
    add_user_id                   = 1
    add_datetime                  = "2019-03-18T10:22:05Z"
    updated_at                    = "2024-07-01T08:00:00Z"
    is_inactive                   = false
    inactive_on                   = null
    inactive_reason_id            = null
    inactive_reason_other         = null
    inactive_transfer_division_id = null
    user_associations_id          = 41
    primary_user_id               = 201
  }
}

test "an inactive user keeps why and where they went" {
  record = {
    user_id                       = 215
    division_id                   = 3
    first_name                    = "Alyssa"
    last_name                     = "Grant"
    is_inactive                   = 1
    inactive_on                   = "2024-05-31"
    inactive_reason_id            = 4
    inactive_reason_other         = " Moved to Cincinnati office "
    inactive_transfer_division_id = 6
    add_datetime                  = "2021-02-01 09:00:00"
    updated_at                    = "2024-05-31 17:30:00"
  }
  want = {
    is_inactive                   = true
    inactive_on                   = "2024-05-31T00:00:00Z"
    inactive_reason_id            = 4
    inactive_reason_other         = "Moved to Cincinnati office"
    inactive_transfer_division_id = 6
  }
}

test "a user outside any association has no primary user" {
  record = {
    user_id              = 216
    user_associations_id = null
    primary_user_id      = null
  }
  want = {
    user_associations_id = null
    primary_user_id      = null
  }
}

test "a user never updated keeps a null updated_at" {
  record = {
    user_id      = 217
    add_datetime = "2023-09-05 13:45:00"
    updated_at   = null
  }
  want = {
    add_datetime = "2023-09-05T13:45:00Z"
    updated_at   = null
  }
}

test "blank text is null" {
  record = {
    user_id               = 218
    first_name            = ""
    first_name_alt        = " "
    last_name             = ""
    email                 = ""
    personal_email        = ""
    time_zone_name        = ""
    inactive_reason_other = ""
  }
  want = {
    first_name            = null
    first_name_alt        = null
    last_name             = null
    email                 = null
    personal_email        = null
    time_zone_name        = null
    inactive_reason_other = null
  }
}

test "a user without a user_id is rejected" {
  record = {
    user_id    = null
    first_name = "Ghost"
  }
  reject {
    check  = "map user_id"
    reason = "key column user_id is null"
  }
}

test "a birth date that is not a date is rejected" {
  record = {
    user_id    = 219
    birth_date = "11/03/1982x"
  }
  reject {
    check = "map birth_date"
  }
}

test "an is_inactive flag that is not 0 or 1 is rejected" {
  record = {
    user_id     = 220
    is_inactive = 2
  }
  reject {
    check = "map is_inactive"
  }
}

test "an add_datetime that is not a timestamp is rejected" {
  record = {
    user_id      = 221
    add_datetime = "2023-09-05 25:00:00"
  }
  reject {
    check  = "map add_datetime"
    reason = "timestamp: \"2023-09-05 25:00:00\" is not a valid date-time (a field is out of range)"
  }
}
