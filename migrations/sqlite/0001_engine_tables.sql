-- The engine's own tables: sync history, incremental state and rejects.
-- Times are RFC 3339 text in UTC.

CREATE TABLE IF NOT EXISTS etl_sync_history (
    id                  INTEGER PRIMARY KEY AUTOINCREMENT,
    pipeline            TEXT    NOT NULL,
    crm_source          TEXT    NOT NULL,
    sync_type           TEXT    NOT NULL,
    endpoint            TEXT    NOT NULL DEFAULT '',
    started_at          TEXT    NOT NULL,
    finished_at         TEXT,
    status              TEXT    NOT NULL CHECK (status IN ('running', 'success', 'partial', 'failed')),
    processed           INTEGER NOT NULL DEFAULT 0,
    created             INTEGER NOT NULL DEFAULT 0,
    updated             INTEGER NOT NULL DEFAULT 0,
    unchanged           INTEGER NOT NULL DEFAULT 0,
    rejected            INTEGER NOT NULL DEFAULT 0,
    failed              INTEGER NOT NULL DEFAULT 0,
    skipped             INTEGER NOT NULL DEFAULT 0,
    warned              INTEGER NOT NULL DEFAULT 0,
    error_message       TEXT    NOT NULL DEFAULT '',
    configuration       TEXT    NOT NULL DEFAULT '',
    performance_metrics TEXT    NOT NULL DEFAULT '{}'
);

CREATE INDEX IF NOT EXISTS etl_sync_history_pipeline_started
    ON etl_sync_history (pipeline, started_at DESC);

CREATE TABLE IF NOT EXISTS etl_state (
    pipeline     TEXT PRIMARY KEY,
    cursor_kind  TEXT NOT NULL,
    cursor_value TEXT NOT NULL,
    run_id       INTEGER,
    updated_at   TEXT NOT NULL
);

CREATE TABLE IF NOT EXISTS etl_rejects (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id      INTEGER NOT NULL,
    pipeline    TEXT    NOT NULL,
    created_at  TEXT    NOT NULL,
    file        TEXT    NOT NULL DEFAULT '',
    line        INTEGER NOT NULL DEFAULT 0,
    page        TEXT    NOT NULL DEFAULT '',
    source_key  TEXT    NOT NULL DEFAULT '',
    check_name  TEXT    NOT NULL DEFAULT '',
    reason      TEXT    NOT NULL,
    record      TEXT    NOT NULL DEFAULT ''
);

CREATE INDEX IF NOT EXISTS etl_rejects_run ON etl_rejects (run_id);
