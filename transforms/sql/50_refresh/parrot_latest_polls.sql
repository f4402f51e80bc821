-- materialize: table
-- grain: one row per Parrot post campaign (account_id, campaign_id) ever polled: its newest poll record in
-- raw.parrot_polls (outcome ready / stale / not_ready / failed / not_found, and when it was polled); read by
-- refresh_candidates.sql. A campaign's poll records are the fetches of its scope parrot|<account>|<id>|polls, so
-- like the fact it is rebuilt per scope: the newest poll of every scope this transform rebuilds (is_current; every
-- scope on a full rebuild) replaces what the table said.
create table if not exists staging.parrot_latest_polls (
    account_id varchar, campaign_id varchar, scope_key varchar, outcome varchar, polled_at timestamp,
    fetch_id varchar
);

delete from staging.parrot_latest_polls
where scope_key in (select scope_key from stg_parrot__polls where is_current);

insert into staging.parrot_latest_polls by name
select account_id, campaign_id, scope_key, payload ->> '$.outcome' as outcome, observed_at as polled_at, fetch_id
from stg_parrot__polls
where is_current
qualify row_number() over (partition by account_id, campaign_id order by observed_at desc, fetch_id desc) = 1;
