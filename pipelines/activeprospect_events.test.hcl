# Test cases for activeprospect_events.hcl: `etl test pipelines/`.
# A record is one element of the bare JSON array GET /events returns: id a
# 24-hex ObjectId, *_timestamp epoch-ms integers, ms an integer, reason a
# string or null; typed values in vars.lead (email, phone_1) arrive as
# {normal, raw, valid, …components} objects or as plain strings
# (crm-apis.md, section 4).

test "a source event maps every field" {
  record = {
    id              = "66000000000000000000a001"
    type            = "source"
    outcome         = "success"
    reason          = null
    start_timestamp = 1711300000123
    end_timestamp   = 1711300000456
    ms              = 333
    wait_ms         = 0
    total_ms        = 333
    vars = {
      lead = {
        first_name  = " Ann "
        last_name   = "Lee"
        email       = { normal = "ann@example.com", raw = " Ann@Example.com", valid = true, domain = "example.com" }
        phone_1     = { normal = "5125550100", raw = "(512) 555-0100", valid = true, area = "512", exchange = "555", line = "0100", type = "mobile" }
        postal_code = "78701"
      }
      flow   = { id = "5fd7b2a0c3e1d400124b0a11", name = "Web Leads" }
      source = { id = "5fd7b2a0c3e1d400124b0a12", name = "Website" }
    }
  }
  want = {
    id          = "66000000000000000000a001"
    type        = "source"
    outcome     = "success"
    reason      = null
    flow_name   = "Web Leads"
    source_name = "Website"
    email       = "ann@example.com"
    email_valid = true
    phone       = "5125550100"
    first_name  = "Ann"
    last_name   = "Lee"
    started_at  = "2024-03-24T17:06:40.123Z"
    ended_at    = "2024-03-24T17:06:40.456Z"
    ms          = 333
    vars = {
      lead = {
        first_name  = " Ann "
        last_name   = "Lee"
        email       = { normal = "ann@example.com", raw = " Ann@Example.com", valid = true, domain = "example.com" }
        phone_1     = { normal = "5125550100", raw = "(512) 555-0100", valid = true, area = "512", exchange = "555", line = "0100", type = "mobile" }
        postal_code = "78701"
      }
      flow   = { id = "5fd7b2a0c3e1d400124b0a11", name = "Web Leads" }
      source = { id = "5fd7b2a0c3e1d400124b0a12", name = "Website" }
    }
  }
  warnings = []
}

test "typed values as plain strings are read as they are" {
  record = {
    id              = "66000000000000000000a002"
    type            = "recipient"
    outcome         = "failure"
    reason          = "Duplicate lead"
    start_timestamp = 1711300001000
    end_timestamp   = 1711300001850
    ms              = 850
    vars = {
      lead = {
        first_name = "Bob"
        last_name  = "Ortiz"
        email      = " Bob.Ortiz@Example.com "
        phone_1    = " 5125550101 "
      }
      flow = { name = "Web Leads" }
    }
  }
  want = {
    type        = "recipient"
    outcome     = "failure"
    reason      = "Duplicate lead"
    flow_name   = "Web Leads"
    source_name = null
    email       = "bob.ortiz@example.com"
    email_valid = null
    phone       = "5125550101"
    started_at  = "2024-03-24T17:06:41Z"
    ended_at    = "2024-03-24T17:06:41.85Z"
    ms          = 850
  }
}

test "a typed value without normal falls back to raw" {
  record = {
    id = "66000000000000000000a003"
    vars = {
      lead = {
        email   = { raw = " Carla@Example.NET ", valid = false }
        phone_1 = { raw = " 512-555-01 ", valid = false }
      }
    }
  }
  want = {
    email       = "carla@example.net"
    email_valid = false
    phone       = "512-555-01"
  }
}

test "a typed value with a null normal falls back to raw" {
  record = {
    id = "66000000000000000000a004"
    vars = {
      lead = {
        email   = { normal = null, raw = "dana@example.com", valid = true }
        phone_1 = { normal = null, raw = "(614) 555-0142", valid = true }
      }
    }
  }
  want = {
    email       = "dana@example.com"
    email_valid = true
    phone       = "(614) 555-0142"
  }
}

test "an invalid typed email lands with email_valid false" {
  record = {
    id = "66000000000000000000a005"
    vars = {
      lead = { email = { normal = "not-an-email", raw = "not-an-email", valid = false } }
    }
  }
  want = { email = "not-an-email", email_valid = false }
}

test "a typed value without valid has a null email_valid" {
  record = {
    id   = "66000000000000000000a006"
    vars = { lead = { email = { normal = "eve@example.com" } } }
  }
  want = { email = "eve@example.com", email_valid = null }
}

test "null lead values are null" {
  record = {
    id              = "66000000000000000000a007"
    type            = "filter"
    outcome         = "success"
    reason          = null
    start_timestamp = null
    end_timestamp   = null
    ms              = null
    vars = {
      lead   = { first_name = null, last_name = null, email = null, phone_1 = null }
      flow   = { name = null }
      source = null
    }
  }
  want = {
    reason      = null
    flow_name   = null
    source_name = null
    email       = null
    email_valid = null
    phone       = null
    first_name  = null
    last_name   = null
    started_at  = null
    ended_at    = null
    ms          = null
  }
}

# email is not listed: the map has no nullif on email, so a plain "" email
# lands as "", not null.
test "empty lead values are null" {
  record = {
    id              = "66000000000000000000a008"
    type            = "source"
    outcome         = "error"
    reason          = "timeout"
    start_timestamp = ""
    end_timestamp   = " "
    ms              = ""
    vars = {
      lead = { first_name = "", last_name = "  ", phone_1 = "" }
    }
  }
  want = {
    outcome    = "error"
    reason     = "timeout"
    phone      = null
    first_name = null
    last_name  = null
    started_at = null
    ended_at   = null
    ms         = null
  }
}

test "missing lead values are null" {
  record = {
    id      = "66000000000000000000a009"
    type    = "feedback-received"
    outcome = "success"
    reason  = null
    vars    = { lead = {} }
  }
  want = {
    type        = "feedback-received"
    flow_name   = null
    source_name = null
    email       = null
    email_valid = null
    phone       = null
    first_name  = null
    last_name   = null
    started_at  = null
    ended_at    = null
    ms          = null
    vars        = { lead = {} }
  }
}

test "an event without vars maps the rest" {
  record = {
    id              = "66000000000000000000a00a"
    type            = "retry"
    outcome         = "success"
    reason          = null
    start_timestamp = 1711300002000
    ms              = 12
  }
  want = {
    type       = "retry"
    email      = null
    phone      = null
    first_name = null
    started_at = "2024-03-24T17:06:42Z"
    ms         = 12
    vars       = null
  }
}

test "ISO timestamps are read too" {
  record = {
    id              = "66000000000000000000a00b"
    start_timestamp = "2024-03-24T17:06:40.123Z"
    end_timestamp   = "2024-03-24T12:06:41-05:00"
    vars            = {}
  }
  want = {
    started_at = "2024-03-24T17:06:40.123Z"
    ended_at   = "2024-03-24T17:06:41Z"
  }
}

test "an empty id is rejected" {
  record = { id = "", type = "source", outcome = "success", vars = {} }
  reject {
    check  = "validate has_id"
    reason = "event has no id"
  }
}

test "a null id is rejected" {
  record = { id = null, type = "source", outcome = "success", vars = {} }
  reject {
    check  = "validate has_id"
    reason = "event has no id"
  }
}

test "a missing id is rejected" {
  record = { type = "source", outcome = "success", vars = {} }
  reject {
    check  = "validate has_id"
    reason = "event has no id"
  }
}

test "a timestamp that is not one is rejected" {
  record = {
    id              = "66000000000000000000a00c"
    start_timestamp = "soon"
    vars            = {}
  }
  reject {
    check = "map started_at"
  }
}

test "an epoch is read in milliseconds, as LeadConduit sends it, whatever its size" {
  record = {
    id            = "66000000000000000000a00d"
    end_timestamp = 1711300
    vars          = {}
  }
  want = {
    ended_at = "1970-01-01T00:28:31.3Z"
  }
}

test "a duration with a fraction is rejected" {
  record = { id = "66000000000000000000a00e", ms = 333.5, vars = {} }
  reject {
    check = "map ms"
  }
}

test "a valid flag that is not a boolean is rejected" {
  record = {
    id   = "66000000000000000000a00f"
    vars = { lead = { email = { normal = "fay@example.com", valid = "maybe" } } }
  }
  reject {
    check = "map email_valid"
  }
}

test "an empty email is null, and an empty normal form falls back to raw" {
  record = {
    id              = "66000000000000000000a0f1"
    start_timestamp = 1711300000123
    vars            = { lead = { email = "", phone_1 = { normal = "", raw = "512-555-0100" } } }
  }
  want = { email = null, phone = "512-555-0100" }
}

test "an empty normal email falls back to raw" {
  record = {
    id              = "66000000000000000000a0f2"
    start_timestamp = 1711300000123
    vars            = { lead = { email = { normal = "", raw = "Ann@Example.com", valid = true } } }
  }
  want = { email = "ann@example.com" }
}
