-- materialize: fact
-- inputs: shoplive_campaign_stats
-- grain: one row per (access key, campaign, metric, window) from the newest pull of each window.
-- Every numeric stats field of a campaign is a breakdown 'total' metric for the requested window (averages and
-- peaks are per window, never to be summed across windows). Identifiers, title and timestamps are not metrics;
-- an unknown field is loaded when it holds a number; unreadable known fields go to stg_shoplive__quarantine.sql.
with source as (
    select account_id, campaign_id, scope_key,
        cast(window_start as timestamp) as period_start,
        cast(window_end as timestamp) as period_end,
        cast(fetched_at as timestamp) as observed_at,
        payload
    from cur_shoplive_campaign_stats
),

fields as (
    select s.*, f.key as field, f.value as raw_value, shoplive__stats_kind(f.key) as kind
    from source as s, json_each(s.payload) as f
    where json_type(s.payload) = 'OBJECT'
),

final as (
    select 'shoplive' as provider, account_id, campaign_id, 'total' as breakdown_type, 'total' as breakdown_value,
        period_start, period_end, shoplive__snake(field) as metric, shoplive__value(raw_value, kind) as value,
        shoplive__unit(kind) as unit, cast(null as varchar) as currency, observed_at, scope_key
    from fields
    where kind <> 'descriptive' and shoplive__value(raw_value, kind) is not null
    qualify row_number() over (
        partition by scope_key, account_id, campaign_id, shoplive__snake(field) order by observed_at desc) = 1
)

select * from final
