# Genius leads from MySQL into the warehouse: every attribute of the mysql
# source, with its default where it has one.
pipeline "example_genius_lead" {
  system     = "genius"
  entity     = "lead"
  batch_size = 1000
  timezone   = "America/New_York" # DATETIME columns are read in this zone

  source "mysql" {
    dsn   = env("GENIUS_MYSQL_DSN") # user:password@tcp(host:3306)/genius
    table = "lead"                  # or database.table; backtick-quoted for you
    columns = [                     # optional: all columns (*) when left out
      "lead_id", "first_name", "last_name", "email", "phone1", "status",
      "added_on", "updated_at",
    ]
    # query = "SELECT … FROM … JOIN …"   # instead of table + columns
    key                = ["lead_id"]  # unique, never NULL: the keyset order
    incremental_column = "updated_at" # optional: read rows changed since the cursor
    fallback_column    = "added_on"   # optional: stands in where updated_at is NULL
    page_size          = 5000         # rows a round trip
    connect_timeout    = "10s"
    read_timeout       = "10m"
    retry {
      attempts = 5     # tries of a round trip whose connection was lost
      max_wait = "30s" # waits double from 1s up to this
    }
  }

  incremental {
    cursor = "updated_at ?? created_at" # the same value the source orders by
  }

  map {
    lead_id    = "int(record.lead_id)"
    first_name = "nullif(trim(record.first_name), '')"
    last_name  = "nullif(trim(record.last_name), '')"
    email      = "nullif(trim(record.email), '')"
    phone      = "nullif(trim(record.phone1), '')"
    status     = "nullif(trim(record.status), '')"
    created_at = "timestamp(record.added_on)"
    updated_at = "timestamp(record.updated_at)"
  }

  sink "warehouse" {
    table = "genius.lead"
    key   = ["lead_id"]
  }
}
