# Test cases for hubspot_contact_events.hcl: `etl test pipelines/`.
# A record is one event of the JSON array HubSpot's webhooks POST: eventId,
# subscriptionId, portalId, appId, objectId and attemptNumber numbers,
# occurredAt epoch ms, subscriptionType such as contact.propertyChange,
# propertyName/propertyValue on property changes only.
# A delivery is signed as HubSpot signs (the v3 signature): base64
# HMAC-SHA256 under the app's client secret of method + URL + body +
# X-HubSpot-Request-Timestamp; now_unix_ms() is the test file's instant.

env = { HUBSPOT_CLIENT_SECRET = "test-client-secret", HUBSPOT_TOKEN = "unused" }

test "a property change maps every field" {
  record = {
    eventId          = 1001
    subscriptionId   = 4242
    portalId         = 62515
    appId            = 54321
    occurredAt       = 1712000000123
    subscriptionType = "contact.propertyChange"
    attemptNumber    = 0
    objectId         = 719869649082
    changeSource     = "CRM_UI"
    propertyName     = "lifecyclestage"
    propertyValue    = "customer"
  }
  want = {
    event_key         = "4242:719869649082:1001:1712000000123:lifecyclestage"
    event_id          = 1001
    subscription_id   = 4242
    subscription_type = "contact.propertyChange"
    portal_id         = 62515
    object_id         = 719869649082
    property_name     = "lifecyclestage"
    property_value    = "customer"
    change_source     = "CRM_UI"
    attempt_number    = 0
    occurred_at       = "2024-04-01T19:33:20.123Z"
  }
}

test "a creation event has no property" {
  record = {
    eventId          = 1002
    subscriptionId   = 4243
    portalId         = 62515
    occurredAt       = 1712000000456
    subscriptionType = "contact.creation"
    attemptNumber    = 2
    objectId         = 719869649083
    changeSource     = "FORM"
  }
  want = {
    event_key      = "4243:719869649083:1002:1712000000456:"
    property_name  = null
    property_value = null
    attempt_number = 2
  }
}

test "an event without an object is rejected" {
  record = {
    eventId          = 1003
    subscriptionId   = 4242
    occurredAt       = 1712000000789
    subscriptionType = "contact.propertyChange"
  }
  reject {
    check = "validate has_object"
  }
}

test "a delivery signed with the client secret is accepted" {
  delivery {
    url  = "https://etl.example.com/webhooks/hubspot"
    body = "[{\"eventId\":1,\"subscriptionId\":4242,\"objectId\":7,\"occurredAt\":1712000000000,\"subscriptionType\":\"contact.creation\"}]"
    headers = {
      "Content-Type"                = "application/json"
      "X-HubSpot-Request-Timestamp" = now_unix_ms()
      "X-HubSpot-Signature-v3"      = hmac_sha256_base64("test-client-secret", "POSThttps://etl.example.com/webhooks/hubspot[{\"eventId\":1,\"subscriptionId\":4242,\"objectId\":7,\"occurredAt\":1712000000000,\"subscriptionType\":\"contact.creation\"}]${now_unix_ms()}")
    }
    status  = 200
    records = 1
  }
}

test "a delivery signed with another secret is refused" {
  delivery {
    url  = "https://etl.example.com/webhooks/hubspot"
    body = "[{\"eventId\":1}]"
    headers = {
      "X-HubSpot-Request-Timestamp" = now_unix_ms()
      "X-HubSpot-Signature-v3"      = hmac_sha256_base64("another-secret", "POSThttps://etl.example.com/webhooks/hubspot[{\"eventId\":1}]${now_unix_ms()}")
    }
    status = 401
  }
}

test "a delivery signed six minutes ago is refused" {
  delivery {
    url  = "https://etl.example.com/webhooks/hubspot"
    body = "[{\"eventId\":1}]"
    headers = {
      "X-HubSpot-Request-Timestamp" = "${now_unix_ms() - 360000}"
      "X-HubSpot-Signature-v3"      = hmac_sha256_base64("test-client-secret", "POSThttps://etl.example.com/webhooks/hubspot[{\"eventId\":1}]${now_unix_ms() - 360000}")
    }
    status = 401
  }
}

test "a delivery signed for another URL is refused" {
  delivery {
    url  = "https://etl.example.com/webhooks/hubspot"
    body = "[{\"eventId\":1}]"
    headers = {
      "X-HubSpot-Request-Timestamp" = now_unix_ms()
      "X-HubSpot-Signature-v3"      = hmac_sha256_base64("test-client-secret", "POSThttps://attacker.example.com/webhooks/hubspot[{\"eventId\":1}]${now_unix_ms()}")
    }
    status = 401
  }
}

test "a signed delivery that is not JSON is a 400" {
  delivery {
    url  = "https://etl.example.com/webhooks/hubspot"
    body = "[{\"eventId\":"
    headers = {
      "X-HubSpot-Request-Timestamp" = now_unix_ms()
      "X-HubSpot-Signature-v3"      = hmac_sha256_base64("test-client-secret", "POSThttps://etl.example.com/webhooks/hubspot[{\"eventId\":${now_unix_ms()}")
    }
    status = 400
  }
}
