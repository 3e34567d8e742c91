# A broken HCL expression in the sink stops the file's decoding there.
pipeline "sink_broken" {
  system = "test"
  entity = "things"
  source "inline" {
    records = []
  }
  map {
    id = "int(record.id)"
  }
  sink "warehouse" {
    table = t # ERROR: Variables not allowed # ERROR: Unsuitable value type
    key   = ["id"]
  }
}
