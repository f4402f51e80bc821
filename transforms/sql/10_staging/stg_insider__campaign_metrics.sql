-- materialize: staging
-- inputs: insider_campaign_metrics
-- grain: one row per campaign-metrics answer of a campaign for one window (same scope as its overall-metrics
-- answer); period = the requested window.
-- raw.insider_campaign_metrics, its lineage renamed and cast by the one staging rule (00_macros/lineage.sql).
select * from etl__staged('src_insider_campaign_metrics')
