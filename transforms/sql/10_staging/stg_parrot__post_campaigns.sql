-- materialize: staging
-- inputs: parrot_post_campaigns
-- grain: one row per post campaign entry of the listing.
-- raw.parrot_post_campaigns, its lineage renamed and cast by the one staging rule (00_macros/lineage.sql).
select * from etl__staged('src_parrot_post_campaigns')
