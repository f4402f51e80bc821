-- materialize: view
-- grain: one row per (provider, account_id, campaign_id) the provider's next run pulls again whatever its windows
-- say (campaigns that can still change). Read through transforms.refresh_candidates(con, provider) by the loader
-- before it extracts; a view, so "now" is the time it is read.
--   greenarrow  campaigns whose dimension status is sending or scheduled
--   experiture  every campaign the fact holds (a deleted one has no rows left, so it is not probed again)
--   parrot      campaigns whose newest poll record (parrot_latest_polls.sql) is stale, not_ready or failed, or any
--               outcome but not_found pulled more than 7 days ago (sources/parrot REPULL_AFTER_DAYS)
create or replace view staging.refresh_candidates as
with greenarrow as (
    select 'greenarrow' as provider, account_id, campaign_id
    from analytics.dim_campaign
    where provider = 'greenarrow' and status in ('sending', 'scheduled')
),

experiture as (
    select distinct 'experiture' as provider, account_id, campaign_id
    from staging.fact_rows
    where provider = 'experiture' and campaign_id is not null
),

parrot as (
    select 'parrot' as provider, account_id, campaign_id
    from staging.parrot_latest_polls
    where outcome in ('stale', 'not_ready', 'failed')
       or (outcome <> 'not_found'
           and polled_at < cast(now() at time zone 'UTC' as timestamp) - interval 7 day)
),

final as (
    select * from greenarrow
    union all
    select * from experiture
    union all
    select * from parrot
)

select * from final
