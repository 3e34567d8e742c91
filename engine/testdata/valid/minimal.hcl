pipeline "minimal" {
  system = "test"
  entity = "things"
  source "inline" {
    records = []
  }
  map {
    name = "record.name"
  }
  sink "warehouse" {
    table = "things"
    mode  = "append"
  }
}
