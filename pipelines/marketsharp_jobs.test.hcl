# Test cases for marketsharp_jobs.hcl: `etl test pipelines/`.

test "a full job maps every field" {
  record = {
    id                     = "00000000-0000-4000-8000-0000000000F1"
    contactId              = "00000000-0000-4000-8000-000000000001"
    inquiryId              = "00000000-0000-4000-8000-0000000000B1"
    appointmentId          = null
    number                 = "J-1042"
    name                   = " Roof replacement "
    description            = ""
    type                   = "Roofing"
    status                 = "Sold"
    addressLine1           = "1 Main St"
    addressLine2           = ""
    city                   = "Springfield"
    state                  = "IL"
    zip                    = "62701"
    note                   = null
    startDate              = "2024-06-01T08:00:00"
    saleDate               = "2024-05-02T19:30:00"
    completedDate          = null
    isActive               = true
    exportedToGuildQuality = false
    createdDate            = "2024-05-02T19:30:00"
    lastUpdate             = "2024-05-03T07:00:00"
  }
  want = {
    id                        = "00000000-0000-4000-8000-0000000000f1"
    contact_id                = "00000000-0000-4000-8000-000000000001"
    inquiry_id                = "00000000-0000-4000-8000-0000000000b1"
    appointment_id            = null
    number                    = "J-1042"
    name                      = "Roof replacement"
    description               = null
    type                      = "Roofing"
    status                    = "Sold"
    address_line1             = "1 Main St"
    address_line2             = null
    city                      = "Springfield"
    state                     = "IL"
    zip                       = "62701"
    note                      = null
    start_date                = "2024-06-01T08:00:00Z"
    sale_date                 = "2024-05-02T19:30:00Z"
    completed_date            = null
    is_active                 = true
    exported_to_guild_quality = false
    created_date              = "2024-05-02T19:30:00Z"
    last_update               = "2024-05-03T07:00:00Z"
  }
}

test "a job without an id is rejected" {
  record = { id = "  ", lastUpdate = "2024-05-03T07:00:00" }
  reject {
    check = "validate has_id"
  }
}

test "a job whose isActive is not a boolean is rejected" {
  record = { id = "00000000-0000-4000-8000-0000000000F1", isActive = "maybe", lastUpdate = "2024-05-03T07:00:00" }
  reject {
    check = "map is_active"
  }
}
