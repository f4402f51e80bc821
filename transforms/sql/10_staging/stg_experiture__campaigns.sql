-- materialize: staging
-- inputs: experiture_campaigns
-- grain: one row per entry of the campaign listing.
-- raw.experiture_campaigns, its lineage renamed and cast by the one staging rule (00_macros/lineage.sql).
select * from etl__staged('src_experiture_campaigns')
