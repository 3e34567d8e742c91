# Test cases for genius_lead.hcl: `etl test pipelines/`.
# The MySQL source delivers DATETIME as text, INT as integers, NULL as null
# (sources/mysql/README.md, "Values"). Columns are renamed to the warehouse's
# lead model: phone1 → phone, zip → zip_code, copied_to_id →
# converted_to_prospect_id, added_on → created_at.

test "a lead maps every field" {
  record = {
    lead_id      = 30417
    first_name   = " Marcus "
    last_name    = "Bell"
    email        = " mbell74@yahoo.com "
    phone1       = "(317) 555-0187"
    address1     = "906 Sycamore Ln"
    city         = "Carmel"
    state        = "IN"
    zip          = "46032"
    source       = "Home Show - Indy Spring 2024"
    added_by     = 117
    division     = 5
    notes        = "Interested in vinyl siding and 6 windows."
    status       = "Contacted"
    copied_to_id = 51240
    added_on     = "2024-03-09 11:15:00"
    updated_at   = "2024-03-12 09:30:45"
  }
  want = {
    lead_id                  = 30417
    first_name               = "Marcus"
    last_name                = "Bell"
    email                    = "mbell74@yahoo.com"
    phone                    = "(317) 555-0187"
    address1                 = "906 Sycamore Ln"
    city                     = "Carmel"
    state                    = "IN"
    zip_code                 = "46032"
    source                   = "Home Show - Indy Spring 2024"
    added_by                 = 117
    division                 = 5
    notes                    = "Interested in vinyl siding and 6 windows."
    status                   = "Contacted"
    converted_to_prospect_id = 51240
    created_at               = "2024-03-09T11:15:00Z"
    updated_at               = "2024-03-12T09:30:45Z"
  }
}

# The incremental cursor falls back to created_at (added_on); the column
# updated_at itself stays null.
test "a lead never updated lands with created_at and a null updated_at" {
  record = {
    lead_id      = 30418
    first_name   = "Tanya"
    last_name    = "Reeves"
    status       = "New"
    copied_to_id = null
    added_on     = "2024-05-20 17:02:11"
    updated_at   = null
  }
  want = {
    created_at               = "2024-05-20T17:02:11Z"
    updated_at               = null
    converted_to_prospect_id = null
  }
}

test "a lead without any date lands with null timestamps" {
  record = {
    lead_id    = 30419
    added_on   = null
    updated_at = null
  }
  want = {
    created_at = null
    updated_at = null
  }
}

test "blank text is null, notes keep their spaces" {
  record = {
    lead_id    = 30420
    first_name = ""
    last_name  = " "
    email      = ""
    phone1     = ""
    address1   = ""
    city       = ""
    state      = ""
    zip        = ""
    source     = ""
    notes      = " left voicemail "
    status     = ""
  }
  want = {
    first_name = null
    last_name  = null
    email      = null
    phone      = null
    address1   = null
    city       = null
    state      = null
    zip_code   = null
    source     = null
    notes      = " left voicemail "
    status     = null
  }
}

test "empty notes are null" {
  record = {
    lead_id = 30421
    notes   = ""
  }
  want = { notes = null }
}

test "a lead without a lead_id is rejected" {
  record = {
    lead_id    = null
    first_name = "Ghost"
    added_on   = "2024-05-20 17:02:11"
  }
  reject {
    check  = "map lead_id"
    reason = "key column lead_id is null"
  }
}

test "an added_on that is not a timestamp is rejected" {
  record = {
    lead_id  = 30422
    added_on = "2024-13-01 08:00:00"
  }
  reject {
    check  = "map created_at"
    reason = "timestamp: \"2024-13-01 08:00:00\" is not a valid date-time (a field is out of range)"
  }
}

test "an updated_at that is not a timestamp is rejected" {
  record = {
    lead_id    = 30423
    added_on   = "2024-05-20 17:02:11"
    updated_at = "n/a"
  }
  reject {
    check = "map updated_at"
  }
}
