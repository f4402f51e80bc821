-- materialize: view
-- grain: one row per provider with a run or facts: its last run and outcome, its last successful run (outcome ok or
-- partial), how many hours before the last transform's checks that finished, the newest value it loaded, and the
-- freshness check's status from analytics.data_quality (freshness_hours, default 26). Read from the data, not
-- the clock, so every target holds the same rows.
create or replace view analytics.provider_freshness as
with runs as (
    select provider,
        arg_max(run_id, started_at) as last_run_id,
        max(started_at) as last_run_at,
        arg_max(outcome, started_at) as last_outcome,
        max(finished_at) filter (where outcome in ('ok', 'partial')) as last_success_at
    from analytics.load_runs
    group by all
),

facts as (
    select provider, max(observed_at) as newest_observed_at, count(*) as fact_rows
    from staging.fact_rows
    group by all
),

campaigns as (
    select provider, count(*) as campaigns from analytics.dim_campaign group by all
),

providers as (
    select provider from runs union select provider from facts
)

select
    p.provider,
    r.last_run_id,
    r.last_run_at,
    r.last_outcome,
    r.last_success_at,
    round(date_diff('second', r.last_success_at, q.checked_at) / 3600.0, 2) as hours_since_success,
    f.newest_observed_at,
    coalesce(f.fact_rows, 0) as fact_rows,
    coalesce(c.campaigns, 0) as campaigns,
    q.status as freshness_status
from providers as p
left join runs as r using (provider)
left join facts as f using (provider)
left join campaigns as c using (provider)
left join analytics.data_quality as q on q.provider = p.provider and q.check_name = 'freshness'
