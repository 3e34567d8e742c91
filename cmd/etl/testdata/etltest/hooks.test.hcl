env = { HOOKS_KEY = "pinned-key-1234" }

test "accepted as expected" {
  delivery {
    url     = "http://h/hooks"
    headers = { "X-Key" = "pinned-key-1234" }
    body    = "[{\"id\":1},{\"id\":2}]"
    status  = 200
    records = 2
  }
}

test "wrong status" {
  delivery {
    url     = "http://h/hooks"
    headers = { "X-Key" = "pinned-key-1234" }
    body    = "{\"id\":1}"
    status  = 401
  }
}

test "wrong count" {
  delivery {
    url     = "http://h/hooks"
    headers = { "X-Key" = "pinned-key-1234" }
    body    = "{\"id\":1}"
    status  = 200
    records = 3
  }
}

test "refused with its reason" {
  delivery {
    url    = "http://h/hooks"
    body   = "{\"id\":1}"
    status = 200
  }
}

test "signed in the file" {
  delivery {
    url     = "http://h/hooks"
    headers = { "X-Key" = hmac_sha256_base64("k", "m${now_unix_ms()}") }
    body    = "{}"
    status  = 401
  }
}
