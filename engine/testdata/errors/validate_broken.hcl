# Broken check expressions: each at its attribute, the other checks still compiled.
pipeline "validate_broken" {
  system = "test"
  entity = "things"
  source "inline" {
    records = []
  }
  map {
    id    = "int(record.id)"
    email = "email(record.email)"
  }
  validate "syntax" {
    check = "email !=" # ERROR: Syntax error in expression
  }
  validate "unknown" {
    check = "emial != nil" # ERROR: Unknown name
  }
  validate "hcl" {
    check = nope("x") # ERROR: Call to unknown function # ERROR: Unsuitable value type
  }
  validate "good" {
    check = "id > 0"
  }
  sink "warehouse" {
    table = "t"
    key   = ["id"]
  }
}
