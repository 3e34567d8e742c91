-- Small values a source keeps from one run to the next, per pipeline (an
-- OAuth provider's rotated refresh token). The engine treats them as secrets.

CREATE TABLE IF NOT EXISTS etl_source_state (
    pipeline   TEXT NOT NULL,
    key        TEXT NOT NULL,
    value      TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (pipeline, key)
);
