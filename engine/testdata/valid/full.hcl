# Every block and attribute of the language, once.
pipeline "full" {
  system      = "test"
  entity      = "contacts"
  description = "a pipeline that uses everything"
  batch_size  = 50
  warehouse_retry = "30s"
  timezone    = "America/New_York"

  source "inline" {
    records = [{ id = "1", email = " A@Example.com ", updated = "2024-01-02 03:04:05" }]
  }

  incremental {
    cursor = "updated_at"
  }

  map {
    id         = "int(record.id)"
    email      = "email(record.email)"
    domain     = "email(record.email) == nil ? nil : split(email(record.email), '@')[1]"
    updated_at = "timestamp(record.updated)"
    stage      = "record.stage ?? 'unknown'"
  }

  validate "has_email" {
    check   = "email != nil"
    message = "contact has no email"
    on_fail = "reject"
  }

  validate "positive_id" {
    check   = "id > 0 && row.id > 0"
    on_fail = "abort"
  }

  sink "warehouse" {
    url   = env("ETL_TEST_NO_SUCH_VAR", "sqlite://test.db")
    table = "crm.contacts"
    key   = ["id"]
    mode  = "upsert"
    columns {
      stage = "text"
    }
  }
}
