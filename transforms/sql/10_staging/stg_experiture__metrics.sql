-- materialize: staging
-- inputs: experiture_metrics
-- grain: one row per /metrics answer of a campaign pull (scope experiture|default|<uuid>|metrics).
-- raw.experiture_metrics, its lineage renamed and cast by the one staging rule (00_macros/lineage.sql).
select * from etl__staged('src_experiture_metrics')
