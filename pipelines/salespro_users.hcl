# SalesPro users, from the users CSV export.
# The export maps by header name; booleans are TRUE/FALSE, allowedOffices holds a
# JSON array of office pointers, and dates are ISO 8601 with milliseconds and Z.
pipeline "salespro_users" {
  system     = "salespro"
  entity     = "users"
  batch_size = 500
  # Exports carry a few hand-typed rows that fail; past this many the run
  # fails instead of ending partial.
  max_rejects = 25

  source "csv" {
    path = env("SALESPRO_USERS_CSV", "samples/salespro_users.csv")
  }

  incremental {
    cursor = "updated_at"
  }

  map {
    object_id       = "nullif(trim(record.objectId), '')"
    username        = "nullif(trim(record.username), '')"
    email           = "email(coalesce(record.email, record.username contains '@' ? record.username : nil))"
    first_name      = "nullif(trim(record.nameFirst), '')"
    last_name       = "nullif(trim(record.nameLast), '')"
    phone           = "phone(record.phoneNumber)"
    is_active       = "bool(record.isActive)"
    allowed_offices = "json(record.allowedOffices)"
    created_at      = "timestamp(record.createdAt)"
    updated_at      = "timestamp(record.updatedAt)"
    last_login_at   = "timestamp(record.lastLoginDate)"
    deactivated_at  = "timestamp(record.deactivatedDate)"
  }

  validate "has_object_id" {
    check   = "object_id != nil"
    message = "row has no objectId (SalesPro's key)"
  }

  validate "has_email" {
    check   = "email != nil"
    message = "user has no email"
    on_fail = "warn"
  }

  sink "warehouse" {
    table = "salespro.users"
    key   = ["object_id"]
    mode  = "upsert"
  }
}
