-- The engine's own tables: sync history, incremental state and rejects.

CREATE TABLE IF NOT EXISTS etl_sync_history (
    id                  bigserial PRIMARY KEY,
    pipeline            text        NOT NULL,
    crm_source          text        NOT NULL,
    sync_type           text        NOT NULL,
    endpoint            text        NOT NULL DEFAULT '',
    started_at          timestamptz NOT NULL,
    finished_at         timestamptz,
    status              text        NOT NULL CHECK (status IN ('running', 'success', 'partial', 'failed')),
    processed           bigint      NOT NULL DEFAULT 0,
    created             bigint      NOT NULL DEFAULT 0,
    updated             bigint      NOT NULL DEFAULT 0,
    unchanged           bigint      NOT NULL DEFAULT 0,
    rejected            bigint      NOT NULL DEFAULT 0,
    failed              bigint      NOT NULL DEFAULT 0,
    skipped             bigint      NOT NULL DEFAULT 0,
    warned              bigint      NOT NULL DEFAULT 0,
    error_message       text        NOT NULL DEFAULT '',
    configuration       text        NOT NULL DEFAULT '',
    performance_metrics jsonb       NOT NULL DEFAULT '{}'
);

CREATE INDEX IF NOT EXISTS etl_sync_history_pipeline_started
    ON etl_sync_history (pipeline, started_at DESC);

CREATE TABLE IF NOT EXISTS etl_state (
    pipeline     text PRIMARY KEY,
    cursor_kind  text        NOT NULL,
    cursor_value text        NOT NULL,
    run_id       bigint,
    updated_at   timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS etl_rejects (
    id          bigserial PRIMARY KEY,
    run_id      bigint      NOT NULL,
    pipeline    text        NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    file        text        NOT NULL DEFAULT '',
    line        integer     NOT NULL DEFAULT 0,
    page        text        NOT NULL DEFAULT '',
    source_key  text        NOT NULL DEFAULT '',
    check_name  text        NOT NULL DEFAULT '',
    reason      text        NOT NULL,
    record      text        NOT NULL DEFAULT ''
);

CREATE INDEX IF NOT EXISTS etl_rejects_run ON etl_rejects (run_id);
