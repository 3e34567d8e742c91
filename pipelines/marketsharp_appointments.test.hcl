# Test cases for marketsharp_appointments.hcl: `etl test pipelines/`.

test "a full appointment maps every field" {
  record = {
    id              = "00000000-0000-4000-8000-0000000000A1"
    inquiryId       = "00000000-0000-4000-8000-0000000000B1"
    salesperson1Id  = "00000000-0000-4000-8000-0000000000C1"
    salesperson2Id  = null
    setById         = ""
    resultId        = "00000000-0000-4000-8000-0000000000D1"
    appointmentDate = "2024-05-02T18:00:00"
    setDate         = "2024-04-30T09:12:00"
    issuedDate      = null
    subject         = " In-home estimate "
    type            = "Sales"
    note            = "Gate code 1234"
    resultReason    = ""
    isActive        = true
    lastUpdateBy    = "00000000-0000-4000-8000-0000000000E1"
    createdBy       = "00000000-0000-4000-8000-0000000000E1"
    createdDate     = "2024-04-30T09:12:00"
    lastUpdate      = "2024-05-01T08:00:00.25"
  }
  want = {
    id               = "00000000-0000-4000-8000-0000000000a1"
    inquiry_id       = "00000000-0000-4000-8000-0000000000b1"
    salesperson1_id  = "00000000-0000-4000-8000-0000000000c1"
    salesperson2_id  = null
    set_by_id        = null
    result_id        = "00000000-0000-4000-8000-0000000000d1"
    appointment_date = "2024-05-02T18:00:00Z"
    set_date         = "2024-04-30T09:12:00Z"
    issued_date      = null
    subject          = "In-home estimate"
    type             = "Sales"
    note             = "Gate code 1234"
    result_reason    = null
    is_active        = true
    last_update_by   = "00000000-0000-4000-8000-0000000000e1"
    created_by       = "00000000-0000-4000-8000-0000000000e1"
    created_date     = "2024-04-30T09:12:00Z"
    last_update      = "2024-05-01T08:00:00.25Z"
  }
}

test "an appointment without an id is rejected" {
  record = { id = null, lastUpdate = "2024-05-01T08:00:00" }
  reject {
    check = "validate has_id"
  }
}

test "an unreadable appointment date rejects the appointment" {
  record = { id = "00000000-0000-4000-8000-0000000000A1", appointmentDate = "2024-13-45T25:00:00", lastUpdate = "2024-05-01T08:00:00" }
  reject {
    check = "map appointment_date"
  }
}
