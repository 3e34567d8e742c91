# An incremental block in a pipeline with no map: both are reported.
pipeline "incremental_without_map" { # ERROR: Missing map block
  system = "test"
  entity = "things"
  source "inline" {
    records = []
  }
  incremental {
    cursor = "updated_at" # ERROR: Unknown name
  }
  incremental { # ERROR: Duplicate incremental block
    cursor = ""
  }
  sink "warehouse" {
    table = "t"
    key   = ["id"] # ERROR: Unknown key column
  }
}
