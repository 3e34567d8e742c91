# The error-budget pipeline: contacts whose email must parse; the test sets
# max_rejects per case (a count, a percentage, or none: strict).
pipeline "faults_budget" {
  system      = "faults"
  entity      = "budget"
  batch_size  = 100
  max_rejects = 0

  source "csv" {
    path = env("FAULTS_CSV", "budget.csv")
  }

  map {
    id    = "int(record.id)"
    email = "email(record.email)"
  }

  validate "has_email" {
    check   = "email != nil"
    message = "contact has no email"
  }

  sink "warehouse" {
    url   = env("FAULTS_WAREHOUSE_URL")
    table = "faults_budget"
    key   = ["id"]
  }
}
