# Test cases for hubspot_contacts.hcl: `etl test pipelines/`.
# A record is one element of the list API's "results": id a numeric string,
# every property a string, "" or null, or missing; date-times ISO 8601 UTC
# with milliseconds and Z (crm-apis.md, section 1).

test "a contact maps every field" {
  record = {
    id        = "512000000017"
    archived  = false
    createdAt = "2024-02-05T14:20:31.017Z"
    updatedAt = "2024-06-01T09:00:00.250Z"
    properties = {
      hs_object_id     = "512000000017"
      email            = " Ann.Lee@Example.com "
      firstname        = " Ann "
      lastname         = "Lee"
      phone            = " +1 (614) 555-0142 "
      mobilephone      = "614-555-0199"
      company          = "Maple Ridge Roofing "
      jobtitle         = "Office Manager"
      lifecyclestage   = "salesqualifiedlead"
      hs_lead_status   = "IN_PROGRESS"
      hubspot_owner_id = "83517204"
      createdate       = "2024-02-05T14:20:31.017Z"
      lastmodifieddate = "2024-06-01T09:00:00.250Z"
    }
  }
  want = {
    id              = 512000000017
    email           = "ann.lee@example.com"
    first_name      = "Ann"
    last_name       = "Lee"
    phone           = "+1 (614) 555-0142"
    mobile_phone    = "614-555-0199"
    company         = "Maple Ridge Roofing"
    job_title       = "Office Manager"
    lifecycle_stage = "salesqualifiedlead"
    lead_status     = "IN_PROGRESS"
    owner_id        = 83517204
    archived        = false
    created_at      = "2024-02-05T14:20:31.017Z"
    updated_at      = "2024-06-01T09:00:00.25Z"
  }
  warnings = []
}

test "null properties are null" {
  record = {
    id        = "512000000018"
    archived  = false
    createdAt = "2024-02-06T08:00:00.000Z"
    updatedAt = "2024-06-02T10:15:00.000Z"
    properties = {
      email            = null
      firstname        = null
      lastname         = null
      phone            = null
      mobilephone      = null
      company          = null
      jobtitle         = null
      lifecyclestage   = null
      hs_lead_status   = null
      hubspot_owner_id = null
      createdate       = "2024-02-06T08:00:00.000Z"
      lastmodifieddate = "2024-06-02T10:15:00.000Z"
    }
  }
  want = {
    id              = 512000000018
    email           = null
    first_name      = null
    last_name       = null
    phone           = null
    mobile_phone    = null
    company         = null
    job_title       = null
    lifecycle_stage = null
    lead_status     = null
    owner_id        = null
    created_at      = "2024-02-06T08:00:00Z"
    updated_at      = "2024-06-02T10:15:00Z"
  }
}

test "cleared properties (\"\" and blanks) are null" {
  record = {
    id        = "512000000019"
    archived  = false
    createdAt = "2024-02-07T08:00:00.000Z"
    updatedAt = "2024-06-03T10:15:00.000Z"
    properties = {
      email            = ""
      firstname        = "  "
      lastname         = ""
      phone            = ""
      mobilephone      = " "
      company          = ""
      jobtitle         = ""
      lifecyclestage   = ""
      hs_lead_status   = ""
      hubspot_owner_id = ""
      createdate       = "2024-02-07T08:00:00.000Z"
      lastmodifieddate = "2024-06-03T10:15:00.000Z"
    }
  }
  want = {
    id              = 512000000019
    email           = null
    first_name      = null
    last_name       = null
    phone           = null
    mobile_phone    = null
    company         = null
    job_title       = null
    lifecycle_stage = null
    lead_status     = null
    owner_id        = null
    created_at      = "2024-02-07T08:00:00Z"
    updated_at      = "2024-06-03T10:15:00Z"
  }
}

test "missing properties are null and the dates fall back to createdAt and updatedAt" {
  record = {
    id         = "512000000020"
    archived   = false
    createdAt  = "2024-02-08T08:00:00.000Z"
    updatedAt  = "2024-06-04T10:15:00Z"
    properties = { hs_object_id = "512000000020" }
  }
  want = {
    id              = 512000000020
    email           = null
    first_name      = null
    last_name       = null
    phone           = null
    mobile_phone    = null
    company         = null
    job_title       = null
    lifecycle_stage = null
    lead_status     = null
    owner_id        = null
    archived        = false
    created_at      = "2024-02-08T08:00:00Z"
    updated_at      = "2024-06-04T10:15:00Z"
  }
}

test "null dates fall back to createdAt and updatedAt" {
  record = {
    id        = "512000000021"
    archived  = false
    createdAt = "2024-02-09T08:00:00.000Z"
    updatedAt = "2024-06-05T10:15:00.000Z"
    properties = {
      email            = "bo@example.com"
      createdate       = null
      lastmodifieddate = null
    }
  }
  want = {
    email      = "bo@example.com"
    created_at = "2024-02-09T08:00:00Z"
    updated_at = "2024-06-05T10:15:00Z"
  }
}

test "a record without properties maps from its top-level fields" {
  record = {
    id        = "512000000022"
    archived  = true
    createdAt = "2023-11-30T23:59:59.999Z"
    updatedAt = "2024-01-02T03:04:05.006Z"
  }
  want = {
    id         = 512000000022
    email      = null
    first_name = null
    owner_id   = null
    archived   = true
    created_at = "2023-11-30T23:59:59.999Z"
    updated_at = "2024-01-02T03:04:05.006Z"
  }
}

test "dates without milliseconds are read" {
  record = {
    id = "512000000023"
    properties = {
      createdate       = "2024-02-05T14:20:31Z"
      lastmodifieddate = "2024-06-01T09:00:00Z"
    }
  }
  want = {
    archived   = null
    created_at = "2024-02-05T14:20:31Z"
    updated_at = "2024-06-01T09:00:00Z"
  }
}

test "a numeric custom lifecycle stage is kept as text" {
  record = {
    id         = "512000000024"
    properties = { lifecyclestage = "1043127591", hs_lead_status = "OPEN" }
  }
  want = { lifecycle_stage = "1043127591", lead_status = "OPEN" }
}

test "an empty id is rejected" {
  record = {
    id         = ""
    properties = { email = "cara@example.com" }
  }
  reject {
    check  = "validate has_id"
    reason = "contact has no id"
  }
}

test "a null id is rejected" {
  record = {
    id         = null
    properties = { email = "cara@example.com" }
  }
  reject {
    check  = "validate has_id"
    reason = "contact has no id"
  }
}

test "a missing id is rejected" {
  record = {
    properties = { email = "cara@example.com" }
  }
  reject {
    check  = "validate has_id"
    reason = "contact has no id"
  }
}

test "an id that is not a number is rejected" {
  record = { id = "contact-17" }
  reject {
    check  = "map id"
    reason = "int: \"contact-17\" is not an integer"
  }
}

test "an id beyond int64 is rejected" {
  record = { id = "99999999999999999999" }
  reject {
    check  = "map id"
    reason = "int: \"99999999999999999999\" is out of the int64 range"
  }
}

test "an email that is not an address is rejected" {
  record = {
    id         = "512000000025"
    properties = { email = "dave at example.com" }
  }
  reject {
    check  = "map email"
    reason = "email: \"dave at example.com\" has no @"
  }
}

test "an email with a display name is rejected" {
  record = {
    id         = "512000000026"
    properties = { email = "Dave Ng <dave@example.com>" }
  }
  reject {
    check = "map email"
  }
}

test "an owner id that is not a number is rejected" {
  record = {
    id         = "512000000027"
    properties = { hubspot_owner_id = "owner-83517204" }
  }
  reject {
    check  = "map owner_id"
    reason = "int: \"owner-83517204\" is not an integer"
  }
}

test "a modified date that is not a date is rejected" {
  record = {
    id         = "512000000028"
    properties = { lastmodifieddate = "last Tuesday" }
  }
  reject {
    check = "map updated_at"
  }
}

test "a modified date out of range is rejected" {
  record = {
    id         = "512000000029"
    properties = { lastmodifieddate = "2024-13-01T00:00:00.000Z" }
  }
  reject {
    check  = "map updated_at"
    reason = "timestamp: \"2024-13-01T00:00:00.000Z\" is not a valid date-time (a field is out of range)"
  }
}

test "empty date properties fall back to the record's own times" {
  record = {
    id         = "1"
    createdAt  = "2024-02-05T14:20:31.017Z"
    updatedAt  = "2024-06-01T09:00:00Z"
    properties = { createdate = "", lastmodifieddate = "", email = "a@b.co" }
  }
  want = {
    created_at = "2024-02-05T14:20:31.017Z"
    updated_at = "2024-06-01T09:00:00Z"
  }
}
