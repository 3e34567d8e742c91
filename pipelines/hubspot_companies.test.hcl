# Test cases for hubspot_companies.hcl: `etl test pipelines/`.
# A record is one element of the list API's "results": id a numeric string,
# every property a string, "" or null, or missing; numbers arrive as strings
# ("17", "" when cleared); companies carry hs_lastmodifieddate (crm-apis.md,
# section 1). The pipeline has no validate block: a record without an id is
# refused by the engine's own key check.

test "a company maps every field" {
  record = {
    id        = "18342256901"
    archived  = false
    createdAt = "2022-11-03T16:27:45.530Z"
    updatedAt = "2024-07-02T12:11:09.004Z"
    properties = {
      hs_object_id        = "18342256901"
      name                = " Maple Ridge Roofing LLC "
      domain              = " MapleRidgeRoofing.com "
      industry            = "CONSTRUCTION"
      phone               = " (614) 555-0142 "
      address             = "1428 Maple Ridge Dr "
      city                = "Columbus"
      state               = " OH"
      zip                 = "43215"
      country             = "United States"
      numberofemployees   = "17"
      annualrevenue       = "2450000.50"
      lifecyclestage      = "customer"
      hubspot_owner_id    = "83517204"
      createdate          = "2022-11-03T16:27:45.530Z"
      hs_lastmodifieddate = "2024-07-02T12:11:09.004Z"
    }
  }
  want = {
    id                  = 18342256901
    name                = "Maple Ridge Roofing LLC"
    domain              = "mapleridgeroofing.com"
    industry            = "CONSTRUCTION"
    phone               = "(614) 555-0142"
    address             = "1428 Maple Ridge Dr"
    city                = "Columbus"
    state               = "OH"
    zip                 = "43215"
    country             = "United States"
    number_of_employees = 17
    annual_revenue      = "2450000.50"
    lifecycle_stage     = "customer"
    owner_id            = 83517204
    archived            = false
    created_at          = "2022-11-03T16:27:45.53Z"
    updated_at          = "2024-07-02T12:11:09.004Z"
  }
  warnings = []
}

test "null properties are null" {
  record = {
    id        = "18342256902"
    archived  = false
    createdAt = "2023-01-04T10:00:00.000Z"
    updatedAt = "2024-07-03T10:00:00.000Z"
    properties = {
      name                = null
      domain              = null
      industry            = null
      phone               = null
      address             = null
      city                = null
      state               = null
      zip                 = null
      country             = null
      numberofemployees   = null
      annualrevenue       = null
      lifecyclestage      = null
      hubspot_owner_id    = null
      createdate          = "2023-01-04T10:00:00.000Z"
      hs_lastmodifieddate = "2024-07-03T10:00:00.000Z"
    }
  }
  want = {
    id                  = 18342256902
    name                = null
    domain              = null
    industry            = null
    phone               = null
    address             = null
    city                = null
    state               = null
    zip                 = null
    country             = null
    number_of_employees = null
    annual_revenue      = null
    lifecycle_stage     = null
    owner_id            = null
    created_at          = "2023-01-04T10:00:00Z"
    updated_at          = "2024-07-03T10:00:00Z"
  }
}

test "cleared properties (\"\" and blanks) are null" {
  record = {
    id        = "18342256903"
    archived  = false
    createdAt = "2023-01-05T10:00:00.000Z"
    updatedAt = "2024-07-04T10:00:00.000Z"
    properties = {
      name                = ""
      domain              = "  "
      industry            = ""
      phone               = " "
      address             = ""
      city                = ""
      state               = ""
      zip                 = " "
      country             = ""
      numberofemployees   = ""
      annualrevenue       = " "
      lifecyclestage      = ""
      hubspot_owner_id    = ""
      createdate          = "2023-01-05T10:00:00.000Z"
      hs_lastmodifieddate = "2024-07-04T10:00:00.000Z"
    }
  }
  want = {
    id                  = 18342256903
    name                = null
    domain              = null
    industry            = null
    phone               = null
    address             = null
    city                = null
    state               = null
    zip                 = null
    country             = null
    number_of_employees = null
    annual_revenue      = null
    lifecycle_stage     = null
    owner_id            = null
    created_at          = "2023-01-05T10:00:00Z"
    updated_at          = "2024-07-04T10:00:00Z"
  }
}

test "missing properties are null and the dates fall back to createdAt and updatedAt" {
  record = {
    id         = "18342256904"
    archived   = false
    createdAt  = "2023-01-06T10:00:00.000Z"
    updatedAt  = "2024-07-05T10:00:00.000Z"
    properties = { hs_object_id = "18342256904" }
  }
  want = {
    id                  = 18342256904
    name                = null
    domain              = null
    industry            = null
    phone               = null
    address             = null
    city                = null
    state               = null
    zip                 = null
    country             = null
    number_of_employees = null
    annual_revenue      = null
    lifecycle_stage     = null
    owner_id            = null
    archived            = false
    created_at          = "2023-01-06T10:00:00Z"
    updated_at          = "2024-07-05T10:00:00Z"
  }
}

test "contacts' lastmodifieddate is not the companies' modified date" {
  record = {
    id        = "18342256905"
    createdAt = "2023-01-07T10:00:00.000Z"
    updatedAt = "2024-07-06T10:00:00.000Z"
    properties = {
      lastmodifieddate    = "2020-01-01T00:00:00.000Z"
      hs_lastmodifieddate = null
    }
  }
  want = { updated_at = "2024-07-06T10:00:00Z" }
}

test "revenue keeps its digits and scale" {
  record = {
    id         = "18342256906"
    properties = { annualrevenue = "12345678901234567890.10", numberofemployees = "250.0" }
  }
  want = { annual_revenue = "12345678901234567890.10", number_of_employees = 250 }
}

test "an archived company keeps archived true" {
  record = {
    id         = "18342256907"
    archived   = true
    properties = { name = "Closed Co" }
  }
  want = { archived = true, name = "Closed Co" }
}

test "an empty id is rejected by the key check" {
  record = {
    id         = ""
    properties = { name = "No Id Inc" }
  }
  reject {
    check  = "map id"
    reason = "key column id is null"
  }
}

test "a null id is rejected by the key check" {
  record = {
    id         = null
    properties = { name = "No Id Inc" }
  }
  reject {
    check  = "map id"
    reason = "key column id is null"
  }
}

test "a missing id is rejected by the key check" {
  record = {
    properties = { name = "No Id Inc" }
  }
  reject {
    check  = "map id"
    reason = "key column id is null"
  }
}

test "an id that is not a number is rejected" {
  record = { id = "abc123" }
  reject {
    check  = "map id"
    reason = "int: \"abc123\" is not an integer"
  }
}

test "an employee count with a fraction is rejected" {
  record = {
    id         = "18342256908"
    properties = { numberofemployees = "12.5" }
  }
  reject {
    check  = "map number_of_employees"
    reason = "int: \"12.5\" is not an integer"
  }
}

test "a revenue with thousands separators is rejected" {
  record = {
    id         = "18342256909"
    properties = { annualrevenue = "1,500,000" }
  }
  reject {
    check  = "map annual_revenue"
    reason = "decimal: \"1,500,000\" is not a decimal number"
  }
}

test "an owner id that is not a number is rejected" {
  record = {
    id         = "18342256910"
    properties = { hubspot_owner_id = "jane@example.com" }
  }
  reject {
    check = "map owner_id"
  }
}

test "a modified date that is not a date is rejected" {
  record = {
    id         = "18342256911"
    properties = { hs_lastmodifieddate = "2024-02-30T00:00:00.000Z" }
  }
  reject {
    check  = "map updated_at"
    reason = "timestamp: \"2024-02-30T00:00:00.000Z\" is not a valid date-time (a field is out of range)"
  }
}
