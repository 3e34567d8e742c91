# Test cases for salespro_offices.hcl: `etl test pipelines/`.

test "an office maps every field" {
  record = {
    objectId              = "Of12Of34Of"
    name                  = " Denver North "
    companyId             = "Co11Co22Co"
    company               = "Front Range Roofing"
    canSearchAllEstimates = "TRUE"
    last_edit_user        = ""
    createdAt             = "2022-01-10T09:00:00.000Z"
    updatedAt             = "2024-05-01T12:00:00.000Z"
    last_edit_date        = ""
  }
  want = {
    object_id                = "Of12Of34Of"
    name                     = "Denver North"
    company_id               = "Co11Co22Co"
    can_search_all_estimates = true
    last_edit_user           = null
    created_at               = "2022-01-10T09:00:00Z"
    last_edit_at             = null
  }
}

test "a boolean that is not one is rejected" {
  record = {
    objectId              = "Of78Of90Of"
    canSearchAllEstimates = "maybe"
  }
  reject {
    check = "map can_search_all_estimates"
  }
}
