# Test cases for genius_appointment.hcl: `etl test pipelines/`.
# The MySQL source delivers DATE, TIME and DATETIME as text, INT and TINYINT as
# integers, NULL as null (sources/mysql/README.md, "Values").

test "an appointment maps every field" {
  record = {
    id                    = 88412
    prospect_id           = 51230
    prospect_source_id    = 60391
    user_id               = 214
    type_id               = 2
    date                  = "2024-07-15"
    time                  = "18:30:00"
    duration              = 90
    address1              = " 1428 Maple Ridge Dr "
    address2              = "Unit 4"
    city                  = "Columbus"
    state                 = "OH"
    zip                   = "43215"
    email                 = " dana.whitfield@gmail.com "
    notes                 = "Roof 22 yrs old, leak over garage. Both owners home after 6."
    add_user_id           = 117
    add_date              = "2024-07-01 09:12:44"
    assign_date           = "2024-07-02 08:00:00"
    confirm_user_id       = 131
    confirm_date          = "2024-07-14 16:05:10"
    confirm_with          = "Dana (wife)"
    spouses_present       = 1
    is_complete           = 1
    complete_outcome_id   = 3
    complete_user_id      = 214
    complete_date         = "2024-07-15 21:02:37"
    updated_at            = "2024-07-15 21:02:37"
    marketsharp_id        = "MS-771023"
    marketsharp_appt_type = "In Home"
    leap_estimate_id      = "LEAP-55102"
    third_party_source_id = 9021
    third_party_id        = "51873401123"
    third_party_label     = "hubspot"
  }
  want = {
    id                    = 88412
    prospect_id           = 51230
    prospect_source_id    = 60391
    user_id               = 214
    type_id               = 2
    date                  = "2024-07-15T00:00:00Z"
    time                  = "18:30:00"
    starts_at             = "2024-07-15T18:30:00Z"
    duration              = 90
    address1              = "1428 Maple Ridge Dr"
    address2              = "Unit 4"
    city                  = "Columbus"
    state                 = "OH"
    zip                   = "43215"
    email                 = "dana.whitfield@gmail.com"
    notes                 = "Roof 22 yrs old, leak over garage. Both owners home after 6."
    add_user_id           = 117
    add_date              = "2024-07-01T09:12:44Z"
    assign_date           = "2024-07-02T08:00:00Z"
    confirm_user_id       = 131
    confirm_date          = "2024-07-14T16:05:10Z"
    confirm_with          = "Dana (wife)"
    spouses_present       = true
    is_complete           = true
    complete_outcome_id   = 3
    complete_user_id      = 214
    complete_date         = "2024-07-15T21:02:37Z"
    updated_at            = "2024-07-15T21:02:37Z"
    marketsharp_id        = "MS-771023"
    marketsharp_appt_type = "In Home"
    leap_estimate_id      = "LEAP-55102"
    third_party_source_id = 9021
    hubspot_id            = "51873401123"
  }
}

test "an appointment without a time has a date but no start" {
  record = {
    id                = 88413
    prospect_id       = 51231
    date              = "2024-01-15"
    time              = null
    spouses_present   = 0
    is_complete       = 0
    add_date          = "2024-01-02 14:20:00"
    updated_at        = null
    third_party_label = null
  }
  want = {
    date            = "2024-01-15T00:00:00Z"
    time            = null
    starts_at       = null
    spouses_present = false
    is_complete     = false
    updated_at      = null
    add_date        = "2024-01-02T14:20:00Z"
  }
}

test "an appointment without a date has no start" {
  record = {
    id   = 88414
    date = null
    time = "10:00:00"
  }
  want = {
    date      = null
    time      = "10:00:00"
    starts_at = null
  }
}

test "an evening appointment stays on its own day" {
  record = {
    id   = 88415
    date = "2024-12-31"
    time = "23:45:00"
  }
  want = { starts_at = "2024-12-31T23:45:00Z" }
}

test "a cross-reference that is not HubSpot gives no hubspot_id" {
  record = {
    id                    = 88416
    prospect_id           = 51232
    third_party_source_id = 9022
    third_party_id        = "ms-7"
    third_party_label     = null
  }
  want = {
    third_party_source_id = 9022
    hubspot_id            = null
  }
}

test "the HubSpot id is trimmed" {
  record = {
    id                = 88417
    third_party_id    = " 501 "
    third_party_label = "hubspot"
  }
  want = { hubspot_id = "501" }
}

test "a blank HubSpot id is null" {
  record = {
    id                = 88418
    third_party_id    = "   "
    third_party_label = "hubspot"
  }
  want = { hubspot_id = null }
}

test "blank text is null, notes keep their spaces" {
  record = {
    id                    = 88419
    address1              = ""
    address2              = "  "
    city                  = ""
    state                 = ""
    zip                   = ""
    email                 = " "
    notes                 = "  call first  "
    confirm_with          = ""
    marketsharp_id        = ""
    marketsharp_appt_type = ""
    leap_estimate_id      = ""
  }
  want = {
    address1              = null
    address2              = null
    city                  = null
    state                 = null
    zip                   = null
    email                 = null
    notes                 = "  call first  "
    confirm_with          = null
    marketsharp_id        = null
    marketsharp_appt_type = null
    leap_estimate_id      = null
  }
}

test "empty notes are null" {
  record = {
    id    = 88420
    notes = ""
  }
  want = { notes = null }
}

test "an appointment without an id is rejected" {
  record = {
    id          = null
    prospect_id = 51233
    date        = "2024-07-15"
  }
  reject {
    check  = "map id"
    reason = "key column id is null"
  }
}

test "a time that is not a time is rejected" {
  record = {
    id   = 88421
    date = "2024-07-15"
    time = "25:00:00"
  }
  reject {
    check  = "map starts_at"
    reason = "timestamp: \"2024-07-15 25:00:00\" is not a valid date-time (a field is out of range)"
  }
}

test "a date that is not a date is rejected" {
  record = {
    id   = 88422
    date = "2024-02-30"
  }
  reject {
    check  = "map date"
    reason = "date: \"2024-02-30\" is not a valid date-time (a field is out of range)"
  }
}

test "an updated_at that is not a timestamp is rejected" {
  record = {
    id         = 88423
    updated_at = "last Tuesday"
  }
  reject {
    check = "map updated_at"
  }
}

test "a spouses_present flag that is not 0 or 1 is rejected" {
  record = {
    id              = 88424
    spouses_present = 2
  }
  reject {
    check = "map spouses_present"
  }
}

test "a blank time gives no start, not midnight" {
  record = { id = 88425, date = "2024-07-15", time = "  " }
  want   = { starts_at = null }
}

test "a blank date gives no start" {
  record = { id = 88426, date = "", time = "18:30:00" }
  want   = { starts_at = null }
}

test "the HubSpot label matches in any case, as the SQL join does" {
  record = { id = 88427, third_party_label = "HubSpot", third_party_id = "51873401123" }
  want   = { hubspot_id = "51873401123" }
}
