-- The environment a run was loaded for (ETL_ENV or --var-file; '' when none
-- was chosen), so sandbox and production runs of a pipeline are told apart.

ALTER TABLE etl_sync_history ADD COLUMN environment TEXT NOT NULL DEFAULT '';
