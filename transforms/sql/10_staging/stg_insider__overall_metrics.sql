-- materialize: staging
-- inputs: insider_overall_metrics
-- grain: one row per campaign record of an overall-metrics answer for one window (scope
-- insider|<partner>|overall|<window>); period = the requested window.
-- raw.insider_overall_metrics, its lineage renamed and cast by the one staging rule (00_macros/lineage.sql).
select * from etl__staged('src_insider_overall_metrics')
