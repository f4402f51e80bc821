-- materialize: staging
-- inputs: greenarrow_link_stats
-- grain: one row per link of a campaign's link_stats pull (scope greenarrow|<list>|<campaign>|link_stats).
-- raw.greenarrow_link_stats, its lineage renamed and cast by the one staging rule (00_macros/lineage.sql).
select * from etl__staged('src_greenarrow_link_stats')
