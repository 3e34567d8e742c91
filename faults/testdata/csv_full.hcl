# The rerun campaign's CSV pipeline: the whole file every run (no cursor),
# upserted onto the table the last run filled, so most rows are unchanged
# and skipped by their stored hash (TestFaultsRerunIntegration).
pipeline "faults_csv_full" {
  system     = "faults"
  entity     = "contacts_csv_full"
  batch_size = 500

  source "csv" {
    path = env("FAULTS_CSV", "contacts.csv")
  }

  map {
    id         = "int(record.id)"
    name       = "record.name"
    score      = "int(record.score)"
    note       = "record.note"
    updated_at = "timestamp(record.updated_at)"
  }

  sink "warehouse" {
    url   = env("FAULTS_WAREHOUSE_URL")
    table = "faults_csv_full"
    key   = ["id"]
  }
}
