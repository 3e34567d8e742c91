# HubSpot's CRM v3 API: one private app token, one rate budget for the
# account. A pipeline names it with connection = "hubspot" and adds its path
# (url = "/crm/v3/objects/deals") and query; any attribute or block it sets
# replaces the one here.
#
# The budget is the account's, so every pipeline on this connection shares
# it: four HubSpot pipelines running at once in one process send at most
# 100 requests in any 10 s between them, and HubSpot's
# X-HubSpot-RateLimit-* headers (which count every client of the account)
# slow them all further.
connection "hubspot" {
  base_url = env("HUBSPOT_API_URL", "https://api.hubapi.com")
  records  = "results"
  key      = "record.id"

  auth "bearer" {
    token = env("HUBSPOT_TOKEN") # a private app's access token
  }

  # The list endpoints' paging: absent on the last page; a page may be empty
  # and still carry a cursor.
  paginate "cursor" {
    next  = "body.paging?.next?.after"
    param = "after"
  }

  rate_limit {
    requests = 100 # the lowest plan's budget; HubSpot's headers slow us further
    per      = "10s"
  }
  retry {
    attempts = 6
    max_wait = "2m"
  }
}

# HubSpot signs each webhook delivery (X-HubSpot-Signature-v3): the base64
# HMAC-SHA256, keyed with the app's client secret, of method + URL + body +
# X-HubSpot-Request-Timestamp (epoch ms). A delivery older than 5 minutes is
# refused, as HubSpot asks, and so is every delivery while the secret is
# unset (an empty key would be anyone's). Used by the pipelines that receive
# HubSpot's webhooks: verify = var.hubspot_webhook_verify, with
# secrets = { client_secret = env("HUBSPOT_CLIENT_SECRET", "") }.
variable "hubspot_webhook_verify" {
  default = <<-EXPR
    let ts = headers['x-hubspot-request-timestamp'] ?? '';
    let sig = headers['x-hubspot-signature-v3'] ?? '';
    secrets.client_secret != '' && ts matches '^[0-9]{10,16}$' &&
    abs(now_unix_ms() - int(ts)) <= 300000 &&
    secure_equal(sig, base64_encode(hmac_sha256(secrets.client_secret, method + url + body + ts)))
  EXPR
}
