# Leads as ActiveProspect LeadConduit delivers them, in real time.
#
# Served by `etl serve`. In LeadConduit, add a recipient step with the
# "Generic POST" (JSON or form) integration pointing at
# https://<your host>/webhooks/leadconduit, map the lead's fields (lead_id
# from lead.id, first_name, last_name, email, phone_1, postal_code, state,
# trustedform_cert_url) and add a header X-ETL-Secret holding the shared
# secret (or send it as the basic-auth password, any user name). The lead is
# stored before LeadConduit gets its answer, which LeadConduit reads as JSON:
# {"outcome":"success"} once stored (also for a repeat of a stored lead), or
# {"outcome":"failure","reason":…} with a 4xx when refused and a 503 when
# it could not be stored (then LeadConduit's retry succeeds later).
pipeline "leadconduit_leads_webhook" {
  system = "leadconduit"
  entity = "leads"
  mask   = ["first_name", "last_name", "email", "phone_1"] # personal data stays out of etl_rejects

  source "webhook" {
    path     = "/webhooks/leadconduit"
    secrets  = { shared_secret = env("LEADCONDUIT_WEBHOOK_SECRET", "") }
    verify   = <<-EXPR
      let auth = headers['authorization'] ?? '';
      let pass = auth startsWith 'Basic ' ? last(split(base64_decode(trimPrefix(auth, 'Basic ')) ?? '', ':')) : '';
      secrets.shared_secret != '' &&
      (secure_equal(headers['x-etl-secret'], secrets.shared_secret) || secure_equal(pass, secrets.shared_secret))
    EXPR
    records  = "body" # one lead a delivery
    dedupe   = "record.lead_id"
    key      = "record.lead_id"
    response = "{'outcome': ok ? 'success' : 'failure', 'reason': ok ? '' : reason}"
  }

  map {
    lead_id         = "nullif(trim(record.lead_id), '')"
    first_name      = "nullif(trim(record.first_name), '')"
    last_name       = "nullif(trim(record.last_name), '')"
    email           = "email(record.email)"
    phone           = "phone(record.phone_1)"
    postal_code     = "nullif(trim(record.postal_code), '')"
    state           = "upper(nullif(trim(record.state), ''))"
    trustedform_url = "nullif(trim(record.trustedform_cert_url), '')"
  }

  validate "has_lead_id" {
    check   = "lead_id != nil"
    message = "delivery has no lead_id (map lead.id to lead_id in the LeadConduit recipient)"
  }

  sink "warehouse" {
    table = "leadconduit.leads"
    key   = ["lead_id"]
  }
}
