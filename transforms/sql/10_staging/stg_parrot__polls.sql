-- materialize: staging
-- inputs: parrot_polls
-- grain: one row per poll record of a polled campaign (statuses seen, polls, wait, outcome; scope
-- parrot|<account>|<id>|polls).
-- raw.parrot_polls, its lineage renamed and cast by the one staging rule (00_macros/lineage.sql).
select * from etl__staged('src_parrot_polls')
