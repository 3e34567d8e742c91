-- Webhook deliveries (source "webhook"): see the PostgreSQL migration of the
-- same number. received_at is RFC 3339 in UTC.

CREATE TABLE IF NOT EXISTS etl_webhook_inbox (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    pipeline      TEXT    NOT NULL,
    dedupe_key    TEXT,
    record        TEXT    NOT NULL,
    received_at   TEXT    NOT NULL,
    processed_run INTEGER
);

CREATE UNIQUE INDEX IF NOT EXISTS etl_webhook_inbox_dedupe
    ON etl_webhook_inbox (pipeline, dedupe_key);

CREATE INDEX IF NOT EXISTS etl_webhook_inbox_pending
    ON etl_webhook_inbox (pipeline, id) WHERE processed_run IS NULL;
