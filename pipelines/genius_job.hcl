# Genius jobs (sold contracts). The Genius table has about a hundred columns;
# these are the ones the warehouse uses. Add a column to both lists to load it.
# Read straight from Genius's MySQL database (GENIUS_MYSQL_DSN).
# Incremental by updated_at, in keyset order; rows whose updated_at is NULL or a zero
# date are read by add_date instead, so none is lost (sources/mysql/README.md).
pipeline "genius_job" {
  system     = "genius"
  entity     = "job"
  batch_size = 5000
  timezone   = "UTC" # the zone Genius writes its DATETIME values in

  source "mysql" {
    connection = "genius"
    table      = "job"
    columns = [
      "id", "client_cid", "prospect_id", "division_id", "user_id", "production_user_id",
      "contract_number", "contract_date", "contract_amount", "sold_user_id", "sold_date",
      "start_date", "end_date", "add_date", "cancel_date", "updated_at",
    ]
    key                = ["id"]
    incremental_column = "updated_at"
    fallback_column    = "add_date"
  }

  incremental { cursor = "updated_at ?? add_date" }

  map {
    id                 = "int(record.id)"
    client_cid         = "int(record.client_cid)"
    prospect_id        = "int(record.prospect_id)"
    division_id        = "int(record.division_id)"
    user_id            = "int(record.user_id)"
    production_user_id = "int(record.production_user_id)"
    contract_number    = "nullif(trim(record.contract_number), '')"
    contract_date      = "date(record.contract_date)"
    contract_amount    = "decimal(record.contract_amount)"
    sold_user_id       = "int(record.sold_user_id)"
    sold_date          = "date(record.sold_date)"
    start_date         = "date(record.start_date)"
    end_date           = "date(record.end_date)"
    add_date           = "timestamp(record.add_date)"
    cancel_date        = "date(record.cancel_date)"
    updated_at         = "timestamp(record.updated_at)"
  }

  sink "warehouse" {
    table = "genius.job"
    key   = ["id"]
  }
}
