pipeline "missing" { # ERROR: Missing source block # ERROR: Missing map block # ERROR: Missing sink block
  system = "test"
  entity = "things"
}
