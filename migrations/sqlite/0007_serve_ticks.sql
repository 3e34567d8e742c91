-- etl serve: one row per scheduled tick of a pipeline, written in the same
-- transaction as the River job that runs it; the primary key makes a tick
-- durable and unique. fire_time is RFC 3339 in UTC.

CREATE TABLE IF NOT EXISTS etl_ticks (
    pipeline    TEXT    NOT NULL,
    fire_time   TEXT    NOT NULL,
    job_id      INTEGER NOT NULL,
    enqueued_at TEXT    NOT NULL,
    outcome     TEXT    NOT NULL DEFAULT '', -- 'superseded': see the postgres file
    PRIMARY KEY (pipeline, fire_time)
);
