# expr's own checker misses a call with too few arguments inside another
# call's argument (it would then fail every record at run time) and panics on
# one with too many there; both are reported at the inner call.
pipeline "arity" {
  system = "test"
  entity = "things"
  source "inline" {
    records = []
  }
  map {
    id    = "int(record.id)"
    name  = "nullif(lower(trim()), '')"   # ERROR: Type error in expression
    other = "lower(trim(record.name, 2))" # ERROR: Type error in expression
    when  = "timestamp(trim(record.when), '2006-01-02')"
    first = "coalesce()"
    ms    = "timestamp_ms(record.when, 'ms')" # ERROR: Type error in expression
    unit  = "date(trim(record.when), 'ms')"
  }
  sink "warehouse" {
    table = "things"
    key   = ["id"]
  }
}
