-- materialize: staging
-- inputs: greenarrow_list_campaigns
-- grain: one row per campaign entry of a mailing list's campaign listing for one window.
-- raw.greenarrow_list_campaigns, its lineage renamed and cast by the one staging rule (00_macros/lineage.sql).
select * from etl__staged('src_greenarrow_list_campaigns')
