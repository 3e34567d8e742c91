# SalesPro offices, from the offices CSV export.
pipeline "salespro_offices" {
  system     = "salespro"
  entity     = "offices"
  batch_size = 500
  # Exports carry a few hand-typed rows that fail; past this many the run
  # fails instead of ending partial.
  max_rejects = 10

  source "csv" {
    path = env("SALESPRO_OFFICES_CSV", "samples/salespro_offices.csv")
  }

  map {
    object_id                = "nullif(trim(record.objectId), '')"
    name                     = "trim(record.name)"
    company_id               = "nullif(trim(record.companyId), '')"
    company                  = "nullif(trim(record.company), '')"
    can_search_all_estimates = "bool(record.canSearchAllEstimates)"
    last_edit_user           = "nullif(trim(record.last_edit_user), '')"
    created_at               = "timestamp(record.createdAt)"
    updated_at               = "timestamp(record.updatedAt)"
    last_edit_at             = "timestamp(record.last_edit_date)"
  }

  validate "has_object_id" {
    check   = "object_id != nil"
    message = "row has no objectId (SalesPro's key)"
  }

  sink "warehouse" {
    table = "salespro.offices"
    key   = ["object_id"]
  }
}
