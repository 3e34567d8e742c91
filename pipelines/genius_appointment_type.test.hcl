# Test cases for genius_appointment_type.hcl: `etl test pipelines/`.
# The MySQL source delivers INT and TINYINT as integers, NULL as null
# (sources/mysql/README.md, "Values").

test "an appointment type maps every field" {
  record = {
    id        = 2
    label     = " In-Home Consultation "
    is_active = 1
  }
  want = {
    id        = 2
    label     = "In-Home Consultation"
    is_active = true
  }
}

test "an inactive type with a blank label" {
  record = {
    id        = 5
    label     = ""
    is_active = 0
  }
  want = {
    label     = null
    is_active = false
  }
}

test "a null is_active stays null" {
  record = {
    id        = 6
    label     = "Virtual Consult"
    is_active = null
  }
  want = { is_active = null }
}

test "a type without an id is rejected" {
  record = {
    id    = null
    label = "Rehash"
  }
  reject {
    check  = "map id"
    reason = "key column id is null"
  }
}

test "an is_active flag that is not 0 or 1 is rejected" {
  record = {
    id        = 7
    is_active = 3
  }
  reject {
    check = "map is_active"
  }
}
