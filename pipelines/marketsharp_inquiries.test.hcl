# Test cases for marketsharp_inquiries.hcl: `etl test pipelines/`.

test "a full inquiry maps every field" {
  record = {
    id                       = "00000000-0000-4000-8000-0000000000B1"
    contactId                = "00000000-0000-4000-8000-000000000001"
    description              = "Roof leak"
    inquirySourcePrimaryId   = "00000000-0000-4000-8000-000000000101"
    inquirySourceSecondaryId = null
    inquiryStatusId          = 3
    division                 = ""
    inquiryDate              = "2024-04-29T14:00:00"
    setDate                  = null
    note                     = "Prefers mornings"
    jobSiteCity              = "Springfield"
    jobSiteState             = "IL"
    jobSiteZip               = "62701"
    isActive                 = true
    lastUpdateBy             = null
    createdBy                = "jsmith"
    createdDate              = "2024-04-29T14:00:00"
    lastUpdate               = "2024-04-30T10:00:00"
  }
  want = {
    id                          = "00000000-0000-4000-8000-0000000000b1"
    contact_id                  = "00000000-0000-4000-8000-000000000001"
    description                 = "Roof leak"
    inquiry_source_primary_id   = "00000000-0000-4000-8000-000000000101"
    inquiry_source_secondary_id = null
    inquiry_status_id           = 3
    division                    = null
    inquiry_date                = "2024-04-29T14:00:00Z"
    set_date                    = null
    note                        = "Prefers mornings"
    job_site_city               = "Springfield"
    job_site_state              = "IL"
    job_site_zip                = "62701"
    is_active                   = true
    last_update_by              = null
    created_by                  = "jsmith"
    created_date                = "2024-04-29T14:00:00Z"
    last_update                 = "2024-04-30T10:00:00Z"
  }
}

test "an inquiry status id that is not a whole number is rejected" {
  record = { id = "00000000-0000-4000-8000-0000000000B1", inquiryStatusId = "3.5", lastUpdate = "2024-04-30T10:00:00" }
  reject {
    check = "map inquiry_status_id"
  }
}

test "an inquiry without an id is rejected" {
  record = { lastUpdate = "2024-04-30T10:00:00" }
  reject {
    check = "validate has_id"
  }
}
