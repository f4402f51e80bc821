-- materialize: staging
-- inputs: parrot_metrics
-- grain: one row per metrics answer of a post campaign pull (scope parrot|<account>|<id>|metrics).
-- raw.parrot_metrics, its lineage renamed and cast by the one staging rule (00_macros/lineage.sql).
select * from etl__staged('src_parrot_metrics')
