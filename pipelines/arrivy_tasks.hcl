# Arrivy tasks (GET /api/tasks), a page at a time until an empty page.
#
# Arrivy authenticates with two headers, X-Auth-Key and X-Auth-Token. from/to
# bound the tasks' schedule window (ISO with an offset); Arrivy ignores the page
# size it is asked for (about 500 a page), so paging stops on an empty page,
# not a short one. The body is usually a bare array, sometimes
# {results, has_next, …}: both are read. Task ids are numbers: kept as text.
# Arrivy has no documented "changed since" filter, so each run reads the window
# and the incremental cursor skips tasks not updated since the last run.
pipeline "arrivy_tasks" {
  system     = "arrivy"
  entity     = "tasks"
  batch_size = 500
  mask = [
    "customer_name", "customer_first_name", "customer_last_name", "customer_email",
    "customer_phone", "customer_mobile_number", "customer_address_line_1",
    "customer_address_line_2", "customer_exact_location",
  ]

  source "rest" {
    connection = "arrivy" # connections/arrivy.hcl: base URL, auth headers, retry
    url        = "/tasks"
    query = {
      from     = env("ARRIVY_TASKS_FROM", "2015-01-01T00:00:00+00:00")
      to       = "{{ now().AddDate(1, 0, 0).UTC().Format('2006-01-02T15:04:05Z07:00') }}"
      order_by = "CREATED"
    }
    records = "type(body) == 'array' ? body : (body?.results ?? body?.data)"
    key     = "record.id == nil ? nil : string(record.id)"

    paginate "page" {
      stop = "type(body) == 'map' && body?.has_next == false"
    }
  }

  incremental {
    cursor = "updated_at"
  }

  map {
    id               = "record.id == nil ? nil : string(record.id)"
    title            = "nullif(trim(record.title), '')"
    status           = "nullif(record.status, '')"
    start_datetime   = "timestamp(record.start_datetime)"
    end_datetime     = "timestamp(record.end_datetime)"
    customer_name    = "nullif(trim(coalesce(trim(record.customer_name), (record.customer_first_name ?? '') + ' ' + (record.customer_last_name ?? ''))), '')"
    customer_email   = "lower(nullif(trim(record.customer_email), ''))"
    customer_phone   = "nullif(trim(coalesce(trim(record.customer_phone), record.customer_mobile_number)), '')"
    customer_address = "nullif(trim(record.customer_address_line_1), '')"
    customer_city    = "nullif(trim(record.customer_city), '')"
    customer_state   = "nullif(trim(record.customer_state), '')"
    customer_zip     = "nullif(trim(record.customer_zipcode), '')"
    latitude         = "float(record.customer_exact_location?.lat)"
    longitude        = "float(record.customer_exact_location?.lng)"
    entity_ids       = "record.entity_ids"
    crew_ids         = "record.crew_ids"
    extra_fields     = "record.extra_fields"
    created_at       = "timestamp(record.created)"
    updated_at       = "timestamp(record.updated)"
  }

  sink "warehouse" {
    table = "arrivy.tasks"
    key   = ["id"]
    columns {
      entity_ids   = "json"
      crew_ids     = "json"
      extra_fields = "json"
    }
  }
}
