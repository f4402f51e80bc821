-- materialize: staging
-- inputs: shoplive_campaign_stats
-- grain: one row per campaign stats record of one window (scope shoplive|<access key>|stats|<window>); period = the
-- requested window.
-- raw.shoplive_campaign_stats, its lineage renamed and cast by the one staging rule (00_macros/lineage.sql).
select * from etl__staged('src_shoplive_campaign_stats')
