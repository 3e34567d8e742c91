-- Webhook deliveries (source "webhook"): each record of a delivery is stored
-- here, in the transaction that also enqueues the run that lands it, before
-- `etl serve` answers the sender; a run marks the records it landed
-- processed in its batch's transaction. dedupe_key (NULL: none) is unique
-- per pipeline, so a delivery the sender repeats is acknowledged and not
-- stored twice; processed rows are kept for the source's dedupe_window.

CREATE TABLE IF NOT EXISTS etl_webhook_inbox (
    id            bigserial   PRIMARY KEY,
    pipeline      text        NOT NULL,
    dedupe_key    text,
    record        text        NOT NULL,
    received_at   timestamptz NOT NULL DEFAULT now(),
    processed_run bigint
);

CREATE UNIQUE INDEX IF NOT EXISTS etl_webhook_inbox_dedupe
    ON etl_webhook_inbox (pipeline, dedupe_key);

CREATE INDEX IF NOT EXISTS etl_webhook_inbox_pending
    ON etl_webhook_inbox (pipeline, id) WHERE processed_run IS NULL;
