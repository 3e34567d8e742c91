# ActiveProspect LeadConduit events (GET /events), oldest first.
#
# HTTP basic auth (connections/activeprospect.hcl: the user from
# LEADCONDUIT_API_USER, "API" by default; the API key as the password).
# Accept: application/json is required (without it LeadConduit answers 403
# "misconfigured csrf"). The
# response is a bare JSON array. Paging sends sort=asc and the last event's id
# as after_id (exclusive), up to 1000 a page, and stops on a short page.
# Event ids are ObjectIds, which sort by creation time, so the id is the
# incremental cursor: the next run starts after the last id that landed
# (so --since takes an event id, not a date).
# Typed values (email, phone) arrive as {normal, raw, valid} objects or as
# plain strings: read normal, fall back to raw.
pipeline "activeprospect_events" {
  system     = "leadconduit"
  entity     = "events"
  batch_size = 1000
  mask       = ["vars"] # the lead's personal data stays out of etl_rejects

  source "rest" {
    connection = "activeprospect" # connections/activeprospect.hcl: base URL, basic auth (user from LEADCONDUIT_API_USER), retry
    url        = "/events"
    query = {
      sort     = "asc"
      limit    = 1000
      after_id = "{{ since }}" # the saved cursor; left out on a first run
    }
    headers = { Accept = "application/json" }
    key     = "record.id"
    ordered = true # sort=asc by id, and id is the cursor

    paginate "after_id" {
      field = "record.id"
      limit = 1000
    }
  }

  incremental {
    cursor = "id"
  }

  map {
    id          = "record.id"
    type        = "record.type"
    outcome     = "record.outcome"
    reason      = "record.reason"
    flow_name   = "record.vars?.flow?.name"
    source_name = "record.vars?.source?.name"
    email       = "lower(nullif(trim(type(record.vars?.lead?.email) == 'map' ? coalesce(record.vars.lead.email.normal, record.vars.lead.email.raw) : record.vars?.lead?.email), ''))"
    email_valid = "type(record.vars?.lead?.email) == 'map' ? bool(record.vars.lead.email.valid) : nil"
    phone       = "nullif(trim(type(record.vars?.lead?.phone_1) == 'map' ? coalesce(record.vars.lead.phone_1.normal, record.vars.lead.phone_1.raw) : record.vars?.lead?.phone_1), '')"
    first_name  = "nullif(trim(record.vars?.lead?.first_name), '')"
    last_name   = "nullif(trim(record.vars?.lead?.last_name), '')"
    started_at  = "timestamp_ms(record.start_timestamp)"
    ended_at    = "timestamp_ms(record.end_timestamp)"
    ms          = "int(record.ms)"
    vars        = "record.vars"
  }

  validate "has_id" {
    check   = "id != nil && id != ''"
    message = "event has no id"
  }

  sink "warehouse" {
    table = "leadconduit.events"
    key   = ["id"]
    columns {
      vars = "json"
    }
  }
}
