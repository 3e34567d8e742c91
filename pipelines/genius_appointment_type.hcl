# Genius appointment types. A small lookup table without timestamps: every run reads it whole.
# Read straight from Genius's MySQL database (GENIUS_MYSQL_DSN).
pipeline "genius_appointment_type" {
  system     = "genius"
  entity     = "appointment_type"
  batch_size = 5000
  timezone   = "UTC" # the zone Genius writes its DATETIME values in

  source "mysql" {
    connection = "genius"
    table      = "appointment_type"
    columns = [
      "id", "label", "is_active",
    ]
    key = ["id"]
  }

  map {
    id        = "int(record.id)"
    label     = "nullif(trim(record.label), '')"
    is_active = "bool(record.is_active)"
  }

  sink "warehouse" {
    table = "genius.appointment_type"
    key   = ["id"]
  }
}
