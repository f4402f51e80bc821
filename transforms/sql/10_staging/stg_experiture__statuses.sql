-- materialize: staging
-- inputs: experiture_statuses
-- grain: one row per /status answer of a campaign pull (same fetch as its summary and metrics).
-- raw.experiture_statuses, its lineage renamed and cast by the one staging rule (00_macros/lineage.sql).
select * from etl__staged('src_experiture_statuses')
