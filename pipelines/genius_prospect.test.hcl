# Test cases for genius_prospect.hcl: `etl test pipelines/`.
# The MySQL source delivers DATETIME as text, INT and SMALLINT as integers,
# NULL as null (sources/mysql/README.md, "Values"). third_party_id and
# third_party_label come from the LEFT JOINs on the cross-reference tables.

test "a prospect maps every field" {
  record = {
    id                    = 51230
    division_id           = 3
    user_id               = 214
    first_name            = " Dana "
    last_name             = "Whitfield"
    alt_first_name        = "Mark"
    alt_last_name         = "Whitfield"
    address1              = "1428 Maple Ridge Dr"
    address2              = "Unit 4"
    city                  = "Columbus"
    county                = "Franklin"
    state                 = "OH"
    zip                   = "43215"
    year_built            = 1987
    phone1                = "(614) 555-0142"
    phone2                = "614-555-0199"
    email                 = " dana.whitfield@gmail.com "
    notes                 = "Wants a full tear-off; asked about GAF Timberline HDZ."
    add_user_id           = 117
    add_date              = "2024-06-28 15:41:09"
    marketsharp_id        = "MS-771023"
    leap_customer_id      = "LC-30981"
    third_party_source_id = 9021
    updated_at            = "2024-07-15 21:02:37"
    third_party_id        = "51873401123"
    third_party_label     = "hubspot"
  }
  want = {
    id                    = 51230
    division_id           = 3
    user_id               = 214
    first_name            = "Dana"
    last_name             = "Whitfield"
    alt_first_name        = "Mark"
    alt_last_name         = "Whitfield"
    address1              = "1428 Maple Ridge Dr"
    address2              = "Unit 4"
    city                  = "Columbus"
    county                = "Franklin"
    state                 = "OH"
    zip                   = "43215"
    year_built            = 1987
    phone1                = "(614) 555-0142"
    phone2                = "614-555-0199"
    email                 = "dana.whitfield@gmail.com"
    notes                 = "Wants a full tear-off; asked about GAF Timberline HDZ."
    add_user_id           = 117
    add_date              = "2024-06-28T15:41:09Z"
    marketsharp_id        = "MS-771023"
    leap_customer_id      = "LC-30981"
    third_party_source_id = 9021
    updated_at            = "2024-07-15T21:02:37Z"
    hubspot_id            = "51873401123"
  }
}

test "a prospect never updated keeps a null updated_at" {
  record = {
    id         = 51231
    first_name = "Luis"
    last_name  = "Ortega"
    add_date   = "2024-04-01 00:00:00"
    updated_at = null
  }
  want = {
    add_date   = "2024-04-01T00:00:00Z"
    updated_at = null
  }
}

test "a prospect without a cross-reference has no hubspot_id" {
  record = {
    id                    = 51232
    third_party_source_id = null
    third_party_id        = null
    third_party_label     = null
  }
  want = {
    third_party_source_id = null
    hubspot_id            = null
  }
}

test "a MarketSharp cross-reference gives no hubspot_id" {
  record = {
    id                    = 51233
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
    id                    = 51234
    third_party_source_id = 9023
    third_party_id        = " 501 "
    third_party_label     = "hubspot"
  }
  want = { hubspot_id = "501" }
}

test "a blank HubSpot id is null" {
  record = {
    id                = 51235
    third_party_id    = ""
    third_party_label = "hubspot"
  }
  want = { hubspot_id = null }
}

test "blank text is null, notes keep their spaces" {
  record = {
    id               = 51236
    first_name       = "Bob"
    last_name        = ""
    alt_first_name   = " "
    alt_last_name    = ""
    address1         = ""
    address2         = ""
    city             = ""
    county           = ""
    state            = ""
    zip              = ""
    phone1           = ""
    phone2           = "  "
    email            = ""
    notes            = " gate code 4411 "
    marketsharp_id   = ""
    leap_customer_id = ""
    year_built       = null
  }
  want = {
    first_name       = "Bob"
    last_name        = null
    alt_first_name   = null
    alt_last_name    = null
    address1         = null
    address2         = null
    city             = null
    county           = null
    state            = null
    zip              = null
    phone1           = null
    phone2           = null
    email            = null
    notes            = " gate code 4411 "
    marketsharp_id   = null
    leap_customer_id = null
    year_built       = null
  }
}

test "a zip code keeps its leading zero and accents survive" {
  record = {
    id    = 51237
    city  = "Peñasco"
    state = "NM"
    zip   = "02134"
    notes = ""
  }
  want = {
    city  = "Peñasco"
    zip   = "02134"
    notes = null
  }
}

test "a prospect without an id is rejected" {
  record = {
    id         = null
    first_name = "Ghost"
  }
  reject {
    check  = "map id"
    reason = "key column id is null"
  }
}

test "an add_date that is not a timestamp is rejected" {
  record = {
    id       = 51238
    add_date = "06/28/2024 3:41 PM"
  }
  reject {
    check = "map add_date"
  }
}

test "the HubSpot label matches in any case, as the SQL join does" {
  record = { id = 88427, third_party_label = "HUBSPOT", third_party_id = "51873401123" }
  want   = { hubspot_id = "51873401123" }
}
