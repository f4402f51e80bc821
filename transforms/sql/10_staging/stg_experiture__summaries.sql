-- materialize: staging
-- inputs: experiture_summaries
-- grain: one row per campaign summary of a campaign pull.
-- raw.experiture_summaries, its lineage renamed and cast by the one staging rule (00_macros/lineage.sql).
select * from etl__staged('src_experiture_summaries')
