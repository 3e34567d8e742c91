# Test cases for hubspot_contacts_incremental.hcl: `etl test pipelines/`.
# A record is one element of the search API's "results", shaped as the list
# API's: id a numeric string, every property a string, "" or null, or
# missing; date-times ISO 8601 UTC with milliseconds and Z (crm-apis.md,
# section 1). The search always returns hs_object_id, createdate and
# lastmodifieddate besides the properties asked for.

# The trigger's deliveries (see hubspot_contact_events.test.hcl) are signed
# with this client secret.
env = { HUBSPOT_CLIENT_SECRET = "test-client-secret" }

test "a changed contact maps every field" {
  record = {
    id        = "719869649082"
    archived  = false
    createdAt = "2023-09-14T17:45:02.481Z"
    updatedAt = "2024-07-15T21:02:37.912Z"
    properties = {
      hs_object_id     = "719869649082"
      email            = "Luis.Ortega@Example.COM"
      firstname        = "Luis"
      lastname         = " Ortega "
      phone            = "(512) 555-0100"
      mobilephone      = "+1 512 555 0101"
      company          = "Ortega Siding & Gutters"
      jobtitle         = " Owner "
      lifecyclestage   = "customer"
      hs_lead_status   = "CONNECTED"
      hubspot_owner_id = "1204455"
      createdate       = "2023-09-14T17:45:02.481Z"
      lastmodifieddate = "2024-07-15T21:02:37.912Z"
    }
  }
  want = {
    id              = 719869649082
    email           = "luis.ortega@example.com"
    first_name      = "Luis"
    last_name       = "Ortega"
    phone           = "(512) 555-0100"
    mobile_phone    = "+1 512 555 0101"
    company         = "Ortega Siding & Gutters"
    job_title       = "Owner"
    lifecycle_stage = "customer"
    lead_status     = "CONNECTED"
    owner_id        = 1204455
    archived        = false
    created_at      = "2023-09-14T17:45:02.481Z"
    updated_at      = "2024-07-15T21:02:37.912Z"
  }
  warnings = []
}

test "null properties are null" {
  record = {
    id        = "719869649083"
    archived  = false
    createdAt = "2024-03-01T12:00:00.000Z"
    updatedAt = "2024-07-16T08:30:00.000Z"
    properties = {
      hs_object_id     = "719869649083"
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
      createdate       = "2024-03-01T12:00:00.000Z"
      lastmodifieddate = "2024-07-16T08:30:00.000Z"
    }
  }
  want = {
    id              = 719869649083
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
    created_at      = "2024-03-01T12:00:00Z"
    updated_at      = "2024-07-16T08:30:00Z"
  }
}

test "cleared properties (\"\" and blanks) are null" {
  record = {
    id        = "719869649084"
    archived  = false
    createdAt = "2024-03-02T12:00:00.000Z"
    updatedAt = "2024-07-16T09:30:00.000Z"
    properties = {
      hs_object_id     = "719869649084"
      email            = " "
      firstname        = ""
      lastname         = " "
      phone            = ""
      mobilephone      = ""
      company          = "  "
      jobtitle         = ""
      lifecyclestage   = ""
      hs_lead_status   = ""
      hubspot_owner_id = " "
      createdate       = "2024-03-02T12:00:00.000Z"
      lastmodifieddate = "2024-07-16T09:30:00.000Z"
    }
  }
  want = {
    id              = 719869649084
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
    created_at      = "2024-03-02T12:00:00Z"
    updated_at      = "2024-07-16T09:30:00Z"
  }
}

test "missing properties are null" {
  record = {
    id        = "719869649085"
    archived  = false
    createdAt = "2024-03-03T12:00:00.000Z"
    updatedAt = "2024-07-16T10:30:00.000Z"
    properties = {
      hs_object_id     = "719869649085"
      createdate       = "2024-03-03T12:00:00.000Z"
      lastmodifieddate = "2024-07-16T10:30:00.000Z"
    }
  }
  want = {
    id              = 719869649085
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
    created_at      = "2024-03-03T12:00:00Z"
    updated_at      = "2024-07-16T10:30:00Z"
  }
}

test "the cursor falls back to updatedAt when lastmodifieddate is missing" {
  record = {
    id         = "719869649086"
    archived   = false
    createdAt  = "2024-03-04T12:00:00.000Z"
    updatedAt  = "2024-07-16T11:30:00.125Z"
    properties = { hs_object_id = "719869649086", email = "mo@example.org" }
  }
  want = {
    email      = "mo@example.org"
    created_at = "2024-03-04T12:00:00Z"
    updated_at = "2024-07-16T11:30:00.125Z"
  }
}

test "the cursor falls back to updatedAt when lastmodifieddate is null" {
  record = {
    id        = "719869649087"
    createdAt = "2024-03-05T12:00:00.000Z"
    updatedAt = "2024-07-16T12:30:00.000Z"
    properties = {
      createdate       = null
      lastmodifieddate = null
    }
  }
  want = {
    archived   = null
    created_at = "2024-03-05T12:00:00Z"
    updated_at = "2024-07-16T12:30:00Z"
  }
}

test "an archived contact keeps archived true" {
  record = {
    id         = "719869649088"
    archived   = true
    createdAt  = "2022-01-10T00:00:00.000Z"
    updatedAt  = "2024-07-17T00:00:00.000Z"
    properties = { lastmodifieddate = "2024-07-17T00:00:00.000Z" }
  }
  want = { archived = true, updated_at = "2024-07-17T00:00:00Z" }
}

test "an empty id is rejected" {
  record = {
    id         = ""
    properties = { lastmodifieddate = "2024-07-16T13:00:00.000Z" }
  }
  reject {
    check  = "validate has_id"
    reason = "contact has no id"
  }
}

test "a null id is rejected" {
  record = {
    id         = null
    properties = { lastmodifieddate = "2024-07-16T13:00:00.000Z" }
  }
  reject {
    check  = "validate has_id"
    reason = "contact has no id"
  }
}

test "a missing id is rejected" {
  record = {
    properties = { lastmodifieddate = "2024-07-16T13:00:00.000Z" }
  }
  reject {
    check  = "validate has_id"
    reason = "contact has no id"
  }
}

test "an id with a fraction is rejected" {
  record = { id = "7198.5" }
  reject {
    check  = "map id"
    reason = "int: \"7198.5\" is not an integer"
  }
}

test "an email without a dot in its domain is rejected" {
  record = {
    id         = "719869649089"
    properties = { email = "erin@localhost" }
  }
  reject {
    check = "map email"
  }
}

test "an email that is not an address is rejected" {
  record = {
    id         = "719869649090"
    properties = { email = "erin.example.com" }
  }
  reject {
    check  = "map email"
    reason = "email: \"erin.example.com\" has no @"
  }
}

test "an owner id that is not a number is rejected" {
  record = {
    id         = "719869649091"
    properties = { hubspot_owner_id = "12;34" }
  }
  reject {
    check  = "map owner_id"
    reason = "int: \"12;34\" is not an integer"
  }
}

test "a create date that is not a date is rejected" {
  record = {
    id         = "719869649092"
    properties = { createdate = "N/A" }
  }
  reject {
    check = "map created_at"
  }
}

test "a signed HubSpot delivery triggers a run" {
  delivery {
    url  = "https://etl.example.com/webhooks/hubspot"
    body = "[{\"eventId\":9,\"objectId\":7}]"
    headers = {
      "X-HubSpot-Request-Timestamp" = now_unix_ms()
      "X-HubSpot-Signature-v3"      = hmac_sha256_base64("test-client-secret", "POSThttps://etl.example.com/webhooks/hubspot[{\"eventId\":9,\"objectId\":7}]${now_unix_ms()}")
    }
    status = 202
  }
}

test "an unsigned delivery triggers nothing" {
  delivery {
    url    = "https://etl.example.com/webhooks/hubspot"
    body   = "[{\"eventId\":9}]"
    status = 401
  }
}
