-- Rows a run deleted or marked deleted (sink deletes, map deleted): counted
-- apart from processed, since they are rows of the table, not records read.

ALTER TABLE etl_sync_history ADD COLUMN deleted INTEGER NOT NULL DEFAULT 0;
