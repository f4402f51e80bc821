-- materialize: staging
-- inputs: shoplive_campaigns
-- grain: one row per campaign search result (campaignMeta).
-- raw.shoplive_campaigns, its lineage renamed and cast by the one staging rule (00_macros/lineage.sql).
select * from etl__staged('src_shoplive_campaigns')
