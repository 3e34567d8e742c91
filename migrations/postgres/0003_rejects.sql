-- Rejects you can act on, and history that tells the truth.
--
-- etl_rejects: every reject gets a category; its fingerprint (position and
-- raw record) lets a later run recognise a record it already rejected, so
-- the unresolved rejects of a pipeline hold each record once; a replay
-- marks the records that now land as resolved. fields is the record's
-- fields as JSON, what a replay runs through the current map ('' when the
-- pipeline masks fields or the source could not parse the record).
ALTER TABLE etl_rejects ADD COLUMN IF NOT EXISTS category        text NOT NULL DEFAULT '';
ALTER TABLE etl_rejects ADD COLUMN IF NOT EXISTS fingerprint     text NOT NULL DEFAULT '';
ALTER TABLE etl_rejects ADD COLUMN IF NOT EXISTS fields          text NOT NULL DEFAULT '';
ALTER TABLE etl_rejects ADD COLUMN IF NOT EXISTS last_run_id     bigint;
ALTER TABLE etl_rejects ADD COLUMN IF NOT EXISTS resolved_at     timestamptz;
ALTER TABLE etl_rejects ADD COLUMN IF NOT EXISTS resolved_by_run bigint;

CREATE UNIQUE INDEX IF NOT EXISTS etl_rejects_unresolved
    ON etl_rejects (pipeline, fingerprint) WHERE resolved_at IS NULL AND fingerprint <> '';
CREATE INDEX IF NOT EXISTS etl_rejects_pipeline ON etl_rejects (pipeline, id);

-- etl_sync_history: records rejected by an earlier run and seen again,
-- records a replay recovered, the run's rejects per category, what kind of
-- run it was, and the time of its last committed batch (the end of a run
-- whose process died).
ALTER TABLE etl_sync_history ADD COLUMN IF NOT EXISTS already_rejected  bigint      NOT NULL DEFAULT 0;
ALTER TABLE etl_sync_history ADD COLUMN IF NOT EXISTS recovered         bigint      NOT NULL DEFAULT 0;
ALTER TABLE etl_sync_history ADD COLUMN IF NOT EXISTS reject_categories jsonb       NOT NULL DEFAULT '{}';
ALTER TABLE etl_sync_history ADD COLUMN IF NOT EXISTS mode              text        NOT NULL DEFAULT 'run';
ALTER TABLE etl_sync_history ADD COLUMN IF NOT EXISTS heartbeat_at      timestamptz;
