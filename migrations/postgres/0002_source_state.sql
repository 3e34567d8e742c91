-- Small values a source keeps from one run to the next, per pipeline (an
-- OAuth provider's rotated refresh token). The engine treats them as secrets.

CREATE TABLE IF NOT EXISTS etl_source_state (
    pipeline   text        NOT NULL,
    key        text        NOT NULL,
    value      text        NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (pipeline, key)
);
