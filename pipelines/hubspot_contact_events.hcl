# HubSpot's contact events as its webhooks deliver them, into an event log.
#
# Served by `etl serve`: HubSpot POSTs each batch of events (a JSON array, up
# to 100) to https://<your host>/webhooks/hubspot, the one target URL of the
# app's webhook subscriptions. The delivery is verified (the v3 signature,
# connections/hubspot.hcl), stored in the warehouse and only then answered
# 200; a run lands the stored events within about batch_wait + 3 s. HubSpot
# retries a delivery that timed out or got a 5xx, so the same event may come
# twice: its eventId alone is not guaranteed unique, so the dedupe key joins
# the subscription, the object, the event id, the time and the property.
# hubspot_contacts_incremental.hcl has a trigger on the same path: a delivery
# also starts a run of it, so changed contacts land within seconds.
pipeline "hubspot_contact_events" {
  system = "hubspot"
  entity = "contact_events"
  mask   = ["propertyValue"] # a changed email or phone stays out of etl_rejects

  source "webhook" {
    path    = "/webhooks/hubspot"
    secrets = { client_secret = env("HUBSPOT_CLIENT_SECRET", "") }
    verify  = var.hubspot_webhook_verify
    records = "body" # a JSON array of events
    dedupe  = "join([string(record.subscriptionId), string(record.objectId), string(record.eventId), string(record.occurredAt), record.propertyName ?? ''], ':')"
    key     = "string(record.eventId)"
  }

  map {
    event_key         = "join([string(record.subscriptionId), string(record.objectId), string(record.eventId), string(record.occurredAt), record.propertyName ?? ''], ':')"
    event_id          = "int(record.eventId)"
    subscription_id   = "int(record.subscriptionId)"
    subscription_type = "record.subscriptionType"
    portal_id         = "int(record.portalId)"
    object_id         = "int(record.objectId)"
    property_name     = "record.propertyName"
    property_value    = "record.propertyValue == nil ? nil : string(record.propertyValue)"
    change_source     = "record.changeSource"
    attempt_number    = "int(record.attemptNumber)"
    occurred_at       = "timestamp_ms(record.occurredAt)"
  }

  validate "has_object" {
    check   = "object_id != nil && subscription_type != nil"
    message = "event names no object or subscription type"
  }

  sink "warehouse" {
    table = "hubspot.contact_events"
    key   = ["event_key"]
  }
}
