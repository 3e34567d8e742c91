# Test cases for salespro_users.hcl: `etl test pipelines/`.

test "a full row maps every field" {
  record = {
    objectId        = "Ab12Cd34Ef"
    username        = "ann.lee"
    email           = " Ann.Lee@Example.com "
    nameFirst       = "Ann"
    nameLast        = "Lee"
    phoneNumber     = "(555) 123-4567"
    isActive        = "TRUE"
    allowedOffices  = "[{\"__type\":\"Pointer\",\"className\":\"Office\",\"objectId\":\"Of12Of34Of\"}]"
    createdAt       = "2023-05-01T14:03:22.123Z"
    updatedAt       = "2024-06-01T09:00:00.000Z"
    lastLoginDate   = ""
    deactivatedDate = ""
  }
  want = {
    object_id       = "Ab12Cd34Ef"
    username        = "ann.lee"
    email           = "ann.lee@example.com"
    first_name      = "Ann"
    last_name       = "Lee"
    phone           = "5551234567"
    is_active       = true
    allowed_offices = [{ __type = "Pointer", className = "Office", objectId = "Of12Of34Of" }]
    created_at      = "2023-05-01T14:03:22.123Z"
    updated_at      = "2024-06-01T09:00:00Z"
    last_login_at   = null
    deactivated_at  = null
  }
}

test "the email falls back to a username that is an address" {
  record = {
    objectId  = "Bc23De45Fg"
    username  = "Bob.Ortiz@example.com"
    email     = ""
    isActive  = "FALSE"
    updatedAt = "2024-06-02T11:30:00Z"
  }
  want = {
    email     = "bob.ortiz@example.com"
    is_active = false
    phone     = null
  }
}

test "a user without any email lands with a warning" {
  record = {
    objectId  = "Cd34Ef56Gh"
    username  = "carla"
    email     = ""
    isActive  = "TRUE"
    updatedAt = "2024-06-02T11:30:00Z"
  }
  want     = { email = null }
  warnings = ["has_email"]
}

test "a row without objectId is rejected" {
  record = {
    objectId  = ""
    username  = "mia.t"
    isActive  = "TRUE"
    updatedAt = "2024-05-22T09:30:00Z"
  }
  reject {
    check  = "validate has_object_id"
    reason = "row has no objectId (SalesPro's key)"
  }
}

test "a short phone number is rejected" {
  record = {
    objectId    = "Ij90Kl12Mn"
    phoneNumber = "12345"
    isActive    = "TRUE"
  }
  reject {
    check  = "map phone"
    reason = "phone: \"12345\" has 5 digits, want 10 to 15"
  }
}

test "a date that is not a date is rejected" {
  record = {
    objectId  = "No45Pq67Rs"
    isActive  = "YES"
    updatedAt = "yesterday"
  }
  reject {
    check = "map updated_at"
  }
}
