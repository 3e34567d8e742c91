-- Rejects you can act on, and history that tells the truth (see the
-- PostgreSQL migration of the same number). Times are RFC 3339 text in UTC.
ALTER TABLE etl_rejects ADD COLUMN category        TEXT NOT NULL DEFAULT '';
ALTER TABLE etl_rejects ADD COLUMN fingerprint     TEXT NOT NULL DEFAULT '';
ALTER TABLE etl_rejects ADD COLUMN fields          TEXT NOT NULL DEFAULT '';
ALTER TABLE etl_rejects ADD COLUMN last_run_id     INTEGER;
ALTER TABLE etl_rejects ADD COLUMN resolved_at     TEXT;
ALTER TABLE etl_rejects ADD COLUMN resolved_by_run INTEGER;

CREATE UNIQUE INDEX IF NOT EXISTS etl_rejects_unresolved
    ON etl_rejects (pipeline, fingerprint) WHERE resolved_at IS NULL AND fingerprint <> '';
CREATE INDEX IF NOT EXISTS etl_rejects_pipeline ON etl_rejects (pipeline, id);

ALTER TABLE etl_sync_history ADD COLUMN already_rejected  INTEGER NOT NULL DEFAULT 0;
ALTER TABLE etl_sync_history ADD COLUMN recovered         INTEGER NOT NULL DEFAULT 0;
ALTER TABLE etl_sync_history ADD COLUMN reject_categories TEXT    NOT NULL DEFAULT '{}';
ALTER TABLE etl_sync_history ADD COLUMN mode              TEXT    NOT NULL DEFAULT 'run';
ALTER TABLE etl_sync_history ADD COLUMN heartbeat_at      TEXT;
