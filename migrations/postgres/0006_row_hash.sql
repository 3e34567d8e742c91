-- What the postgres sink last wrote to each row of an upsert target, so that a
-- rerun recognises unchanged rows without sending them (sinks/postgres/README.md,
-- "Unchanged rows").

-- One row per upsert target whose row hashes are kept.
CREATE TABLE IF NOT EXISTS etl_row_hash_tables (
    id         serial  PRIMARY KEY,
    table_name text    NOT NULL UNIQUE, -- as the sink quotes it: "schema"."table" or "table"
    relid      oid     NOT NULL         -- the table the hashes describe; another oid discards them
);

-- Per key of a target: the hash of the row the sink last wrote (or found
-- equal) and the run that did. key is the key's text: one column's text
-- (bigint as decimal digits), several columns each as
-- octet_length(text) || ':' || text, concatenated.
CREATE TABLE IF NOT EXISTS etl_row_hash (
    table_id integer NOT NULL,
    key      text    COLLATE "C" NOT NULL,
    row_hash bytea   NOT NULL,
    run_id   bigint  NOT NULL,
    PRIMARY KEY (table_id, key)
);

-- Targets changed by a session other than the sink's writes (an UPDATE,
-- DELETE or TRUNCATE without etl.sink_write set): their hashes are no longer
-- to be trusted, and the next run's Prepare discards them.
CREATE TABLE IF NOT EXISTS etl_row_hash_edits (
    relid oid         NOT NULL,
    at    timestamptz NOT NULL DEFAULT now()
);

-- The statement trigger the sink puts on its hashed targets. It runs as its
-- owner with the search_path of its creation, so any session may edit the
-- target; it adds a mark only when there is none, so concurrent editors do
-- not wait on each other.
CREATE OR REPLACE FUNCTION etl_row_hash_edited() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER SET search_path FROM CURRENT AS $$
BEGIN
    IF current_setting('etl.sink_write', true) IS DISTINCT FROM 'on'
       AND NOT EXISTS (SELECT 1 FROM etl_row_hash_edits WHERE relid = TG_RELID) THEN
        INSERT INTO etl_row_hash_edits (relid) VALUES (TG_RELID);
    END IF;
    RETURN NULL;
END
$$;
