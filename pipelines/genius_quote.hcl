# Genius quotes; amount is money, kept exact.
# Read straight from Genius's MySQL database (GENIUS_MYSQL_DSN).
# Incremental by updated_at, in keyset order; rows whose updated_at is NULL or a zero
# date are read by add_date instead, so none is lost (sources/mysql/README.md).
pipeline "genius_quote" {
  system     = "genius"
  entity     = "quote"
  batch_size = 5000
  timezone   = "UTC" # the zone Genius writes its DATETIME values in

  source "mysql" {
    connection = "genius"
    table      = "quote"
    columns = [
      "id", "prospect_id", "appointment_id", "job_id", "client_cid", "service_id",
      "label", "description", "amount", "expire_date", "status_id", "contract_file_id",
      "estimate_file_id", "add_user_id", "add_date", "updated_at",
    ]
    key                = ["id"]
    incremental_column = "updated_at"
    fallback_column    = "add_date"
  }

  incremental { cursor = "updated_at ?? add_date" }

  map {
    id               = "int(record.id)"
    prospect_id      = "int(record.prospect_id)"
    appointment_id   = "int(record.appointment_id)"
    job_id           = "int(record.job_id)"
    client_cid       = "int(record.client_cid)"
    service_id       = "int(record.service_id)"
    label            = "nullif(trim(record.label), '')"
    description      = "nullif(trim(record.description), '')"
    amount           = "decimal(record.amount)"
    expire_date      = "date(record.expire_date)"
    status_id        = "int(record.status_id)"
    contract_file_id = "int(record.contract_file_id)"
    estimate_file_id = "int(record.estimate_file_id)"
    add_user_id      = "int(record.add_user_id)"
    add_date         = "timestamp(record.add_date)"
    updated_at       = "timestamp(record.updated_at)"
  }

  sink "warehouse" {
    table = "genius.quote"
    key   = ["id"]
  }
}
