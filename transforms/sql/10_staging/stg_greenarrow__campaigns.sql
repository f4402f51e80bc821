-- materialize: staging
-- inputs: greenarrow_campaigns
-- grain: one row per campaign details record (GET campaign), one per pull of scope
-- greenarrow|<list>|<campaign>|details.
-- raw.greenarrow_campaigns, its lineage renamed and cast by the one staging rule (00_macros/lineage.sql).
select * from etl__staged('src_greenarrow_campaigns')
