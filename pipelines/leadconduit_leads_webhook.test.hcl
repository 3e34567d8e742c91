# Test cases for leadconduit_leads_webhook.hcl: `etl test pipelines/`.
# A record is one lead as LeadConduit's Generic POST recipient sends it
# (form-encoded or JSON, flat fields as mapped in the recipient step):
# lead_id the lead's 24-hex id, every field a string.

env = { LEADCONDUIT_WEBHOOK_SECRET = "test-shared-secret" }

test "a lead maps every field" {
  record = {
    lead_id              = "5fd7b2a0c3e1d400124b0a99"
    first_name           = " Ann "
    last_name            = "Lee"
    email                = " Ann@Example.com"
    phone_1              = "(512) 555-0100"
    postal_code          = "78701"
    state                = "tx"
    trustedform_cert_url = "https://cert.trustedform.com/0123456789abcdef"
  }
  want = {
    lead_id         = "5fd7b2a0c3e1d400124b0a99"
    first_name      = "Ann"
    last_name       = "Lee"
    email           = "ann@example.com"
    phone           = "5125550100"
    postal_code     = "78701"
    state           = "TX"
    trustedform_url = "https://cert.trustedform.com/0123456789abcdef"
  }
}

test "a lead without its id is rejected" {
  record = {
    first_name = "Ann"
  }
  reject {
    check = "validate has_lead_id"
  }
}

test "a form delivery with the shared secret header is accepted" {
  delivery {
    url     = "https://etl.example.com/webhooks/leadconduit"
    headers = { "Content-Type" = "application/x-www-form-urlencoded", "X-ETL-Secret" = "test-shared-secret" }
    body    = "lead_id=5fd7b2a0c3e1d400124b0a99&first_name=Ann&email=ann%40example.com"
    status  = 200
    records = 1
  }
}

test "a JSON delivery with the secret as the basic-auth password is accepted" {
  delivery {
    url = "https://etl.example.com/webhooks/leadconduit"
    # Authorization: basic auth of leadconduit:test-shared-secret
    headers = { "Content-Type" = "application/json", Authorization = "Basic bGVhZGNvbmR1aXQ6dGVzdC1zaGFyZWQtc2VjcmV0" }
    body    = "{\"lead_id\":\"5fd7b2a0c3e1d400124b0a99\"}"
    status  = 200
    records = 1
  }
}

test "a delivery with a wrong secret is refused" {
  delivery {
    url     = "https://etl.example.com/webhooks/leadconduit"
    headers = { "X-ETL-Secret" = "guessed" }
    body    = "lead_id=1"
    status  = 401
  }
}

test "a delivery without credentials is refused" {
  delivery {
    url    = "https://etl.example.com/webhooks/leadconduit"
    body   = "lead_id=1"
    status = 401
  }
}
