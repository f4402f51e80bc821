-- materialize: intermediate
-- grain: one row per candidate metric field of the newest pull of each stats window, with its kind
-- (00_macros/shoplive_kinds.sql): every field of a campaign's stats record except identifiers, title and
-- timestamps, breakdown total, period = the requested window (averages and peaks are per window, never to be
-- summed across windows). Fields documented as integers arrive as floats (1.0) and as number text ("1,234"); an
-- unknown field is loaded when it reads as a number. int_metric_values.sql reads every field by one rule. The
-- stats record is itself the metrics block, and the source keeps only records that are objects with a
-- campaignKey, so there is no missing-block row here.
with source as (
    select account_id, campaign_id, scope_key, period_start, period_end, observed_at, payload
    from stg_shoplive__campaign_stats
    where is_current
),

candidates as (
    select s.account_id, s.campaign_id, s.scope_key, s.observed_at, s.period_start, s.period_end,
        f.key as field,
        f.value as v,
        shoplive__stats_kind(f.key) as kind
    from (select *, unnest(etl__members(payload)) as f from source where json_type(payload) = 'OBJECT') as s
),

final as (
    select 'shoplive' as provider, account_id, campaign_id, scope_key, observed_at, period_start, period_end,
        'total' as breakdown_type,
        'total' as breakdown_value,
        'campaign_stats' as endpoint,
        field,
        etl__snake(field) as metric,
        v,
        kind
    from candidates
)

select * from final
