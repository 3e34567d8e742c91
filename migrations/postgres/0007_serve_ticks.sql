-- etl serve: one row per scheduled tick of a pipeline, written in the same
-- transaction as the River job that runs it. The primary key makes a tick
-- durable and unique: however many processes (or leaders, one after another)
-- fire the same tick, one row and one job exist for it.

CREATE TABLE IF NOT EXISTS etl_ticks (
    pipeline    text        NOT NULL,
    fire_time   timestamptz NOT NULL,
    job_id      bigint      NOT NULL,
    enqueued_at timestamptz NOT NULL DEFAULT now(),
    -- '' while the tick's run is the job's to do; 'superseded' when the tick
    -- found its pipeline still running and a later tick already waiting, so
    -- it was dropped (the overlap policy: one run at a time, one waiting).
    outcome     text        NOT NULL DEFAULT '',
    PRIMARY KEY (pipeline, fire_time)
);
