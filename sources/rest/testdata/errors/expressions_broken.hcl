# Every expression attribute of the rest source, broken: each is an error at
# its line, the rest of the file still checked, no panic.
pipeline "t" {
  system = "test"
  entity = "t"

  source "rest" {
    url     = "https://api.example.com/{{ page + }}/items" # ERROR: Syntax error in expression
    method  = "POST"
    records = "body.results[" # ERROR: Syntax error in expression
    key     = "record.id +" # ERROR: Syntax error in expression
    headers = {
      X-Page = "{{ pag }}" # ERROR: Unknown name
    }
    body = {
      since = "{{ since ?? }}" # ERROR: Syntax error in expression
    }
    paginate "after_id" {
      field = "record.id ==" # ERROR: Syntax error in expression
      stop  = "len(body) <" # ERROR: Syntax error in expression
      param = "after"
    }
  }

  incremental {
    cursor = "updatd_at" # ERROR: Unknown name
  }

  map {
    id = "record.id"
  }

  sink "warehouse" {
    table = "t"
    key   = ["id"]
  }
}
