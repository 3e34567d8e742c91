# Test cases for arrivy_tasks.hcl: `etl test pipelines/`.
# A record is one task from GET /api/tasks: a numeric id (kept as text),
# title, status, start/end date-times with Z, an offset or naive (UTC),
# customer_* fields, customer_exact_location {lat, lng} as numbers or
# strings, entity_ids, crew_ids, extra_fields, created and updated
# (crm-apis.md, section 5). The pipeline has no validate block.

test "a task maps every field" {
  record = {
    id                      = 5629499534213120
    title                   = " Roof inspection – Whitfield "
    status                  = "NOTSTARTED"
    start_datetime          = "2024-07-22T09:00:00-05:00"
    end_datetime            = "2024-07-22T10:30:00-05:00"
    customer_name           = " Dana Whitfield "
    customer_first_name     = "Dana"
    customer_last_name      = "Whitfield"
    customer_email          = " Dana.Whitfield@Gmail.com "
    customer_phone          = " (614) 555-0142 "
    customer_mobile_number  = "6145550199"
    customer_address_line_1 = "1428 Maple Ridge Dr "
    customer_address_line_2 = "Unit 4"
    customer_city           = "Columbus"
    customer_state          = "OH "
    customer_zipcode        = " 43215"
    customer_country        = "USA"
    customer_exact_location = { lat = 39.9612, lng = -82.9988 }
    entity_ids              = [5744863563743232, 6296903092273152]
    crew_ids                = [4785074604081152]
    extra_fields            = { roof_type = "Asphalt shingle", stories = 2, gate_code = "4411" }
    created                 = "2024-07-01T14:22:10.123Z"
    updated                 = "2024-07-18T16:05:44Z"
  }
  want = {
    id               = "5629499534213120"
    title            = "Roof inspection – Whitfield"
    status           = "NOTSTARTED"
    start_datetime   = "2024-07-22T14:00:00Z"
    end_datetime     = "2024-07-22T15:30:00Z"
    customer_name    = "Dana Whitfield"
    customer_email   = "dana.whitfield@gmail.com"
    customer_phone   = "(614) 555-0142"
    customer_address = "1428 Maple Ridge Dr"
    customer_city    = "Columbus"
    customer_state   = "OH"
    customer_zip     = "43215"
    latitude         = 39.9612
    longitude        = -82.9988
    entity_ids       = [5744863563743232, 6296903092273152]
    crew_ids         = [4785074604081152]
    extra_fields     = { roof_type = "Asphalt shingle", stories = 2, gate_code = "4411" }
    created_at       = "2024-07-01T14:22:10.123Z"
    updated_at       = "2024-07-18T16:05:44Z"
  }
  warnings = []
}

test "null fields are null" {
  record = {
    id                      = 5629499534213121
    title                   = null
    status                  = null
    start_datetime          = null
    end_datetime            = null
    customer_name           = null
    customer_first_name     = null
    customer_last_name      = null
    customer_email          = null
    customer_phone          = null
    customer_mobile_number  = null
    customer_address_line_1 = null
    customer_city           = null
    customer_state          = null
    customer_zipcode        = null
    customer_exact_location = null
    entity_ids              = null
    crew_ids                = null
    extra_fields            = null
    created                 = "2024-07-02T08:00:00Z"
    updated                 = null
  }
  want = {
    id               = "5629499534213121"
    title            = null
    status           = null
    start_datetime   = null
    end_datetime     = null
    customer_name    = null
    customer_email   = null
    customer_phone   = null
    customer_address = null
    customer_city    = null
    customer_state   = null
    customer_zip     = null
    latitude         = null
    longitude        = null
    entity_ids       = null
    crew_ids         = null
    extra_fields     = null
    created_at       = "2024-07-02T08:00:00Z"
    updated_at       = null
  }
}

# The fallbacks are absent here: ?? skips only null, so a "" customer_name
# would not fall back to the first and last names, nor a "" customer_phone to
# customer_mobile_number.
test "empty fields are null" {
  record = {
    id                      = 5629499534213122
    title                   = " "
    status                  = ""
    start_datetime          = ""
    end_datetime            = " "
    customer_name           = ""
    customer_email          = " "
    customer_phone          = ""
    customer_address_line_1 = ""
    customer_city           = ""
    customer_state          = "  "
    customer_zipcode        = ""
    customer_exact_location = { lat = "", lng = " " }
    entity_ids              = []
    crew_ids                = []
    extra_fields            = {}
    created                 = ""
    updated                 = ""
  }
  want = {
    id               = "5629499534213122"
    title            = null
    status           = null
    start_datetime   = null
    end_datetime     = null
    customer_name    = null
    customer_email   = null
    customer_phone   = null
    customer_address = null
    customer_city    = null
    customer_state   = null
    customer_zip     = null
    latitude         = null
    longitude        = null
    entity_ids       = []
    crew_ids         = []
    extra_fields     = {}
    created_at       = null
    updated_at       = null
  }
}

test "missing fields are null" {
  record = { id = 5629499534213123 }
  want = {
    id               = "5629499534213123"
    title            = null
    status           = null
    start_datetime   = null
    end_datetime     = null
    customer_name    = null
    customer_email   = null
    customer_phone   = null
    customer_address = null
    customer_city    = null
    customer_state   = null
    customer_zip     = null
    latitude         = null
    longitude        = null
    entity_ids       = null
    crew_ids         = null
    extra_fields     = null
    created_at       = null
    updated_at       = null
  }
}

test "the customer name is built from first and last names" {
  record = {
    id                  = 5629499534213124
    customer_first_name = " Luis"
    customer_last_name  = "Ortega "
  }
  want = { customer_name = "Luis Ortega" }
}

test "the customer name is the first name alone when there is no last name" {
  record = {
    id                  = 5629499534213125
    customer_name       = null
    customer_first_name = "Mia"
    customer_last_name  = null
  }
  want = { customer_name = "Mia" }
}

test "the phone falls back to the mobile number" {
  record = {
    id                     = 5629499534213126
    customer_phone         = null
    customer_mobile_number = " +1 512 555 0101 "
  }
  want = { customer_phone = "+1 512 555 0101" }
}

test "a location as strings is read" {
  record = {
    id                      = 5629499534213127
    customer_exact_location = { lat = "30.2672", lng = " -97.7431 " }
  }
  want = { latitude = 30.2672, longitude = -97.7431 }
}

test "naive date-times are UTC" {
  record = {
    id             = 5629499534213128
    start_datetime = "2024-07-23T08:00:00"
    end_datetime   = "2024-07-23 09:15:00"
    created        = "2024-07-03T11:00:00.654321"
    updated        = "2024-07-03T11:05:00+00:00"
  }
  want = {
    start_datetime = "2024-07-23T08:00:00Z"
    end_datetime   = "2024-07-23T09:15:00Z"
    created_at     = "2024-07-03T11:00:00.654321Z"
    updated_at     = "2024-07-03T11:05:00Z"
  }
}

test "a string id is kept as it is" {
  record = { id = "5629499534213129", title = "Gutter repair" }
  want   = { id = "5629499534213129", title = "Gutter repair" }
}

test "a latitude that is not a number is rejected" {
  record = {
    id                      = 5629499534213130
    customer_exact_location = { lat = "N/A", lng = "-97.7431" }
  }
  reject {
    check  = "map latitude"
    reason = "float: \"N/A\" is not a number"
  }
}

test "a longitude that is not a number is rejected" {
  record = {
    id                      = 5629499534213131
    customer_exact_location = { lat = 30.2672, lng = "97.7431W" }
  }
  reject {
    check  = "map longitude"
    reason = "float: \"97.7431W\" is not a number"
  }
}

test "a start that is not a date-time is rejected" {
  record = { id = 5629499534213132, start_datetime = "tomorrow 9am" }
  reject {
    check = "map start_datetime"
  }
}

test "an updated date out of range is rejected" {
  record = { id = 5629499534213133, updated = "2024-07-32T00:00:00Z" }
  reject {
    check  = "map updated_at"
    reason = "timestamp: \"2024-07-32T00:00:00Z\" is not a valid date-time (a field is out of range)"
  }
}

test "a task without an id is rejected, not stored under the id <nil>" {
  record = { title = "Gutter repair" }
  reject {
    check  = "map id"
    reason = "key column id is null"
  }
}

test "an empty customer name falls back to the first and last names" {
  record = { id = 7, customer_name = "", customer_first_name = "Ann", customer_last_name = "Lee" }
  want   = { customer_name = "Ann Lee" }
}

test "an empty phone falls back to the mobile number" {
  record = { id = 7, customer_phone = " ", customer_mobile_number = "5551234567" }
  want   = { customer_phone = "5551234567" }
}
