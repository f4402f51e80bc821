-- materialize: intermediate
-- grain: one row per candidate metric value of the newest pull of each stats window: every field of a campaign's
-- stats record except identifiers, title and timestamps, breakdown total, period = the requested window. value
-- is set when published, reason when quarantined (00_macros/values.sql); 30_marts/fct_shoplive__metrics.sql and
-- quarantine_shoplive__values.sql only filter this relation, so fact and quarantine cannot disagree. The stats
-- record is itself the metrics block, and the source keeps only records that are objects with a campaignKey,
-- so there is no missing-block row here.
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
    from source as s, json_each(s.payload) as f
    where json_type(s.payload) = 'OBJECT'
),

readings as (
    -- each macro once per row (a macro is inlined where it is used): value and reason below are
    -- etl__value(v, kind) and etl__reason(v, kind) = etl__check(v, kind, etl__read(v, kind), etl__unit(v, kind))
    select *,
        etl__read(v, kind) as number,
        etl__unit(v, kind) as unit,
        etl__currency(v, kind, null) as currency
    from candidates
    where kind <> 'descriptive'
),

checked as (
    select *, etl__check(v, kind, number, unit) as reason
    from readings
),

parsed as (
    select account_id, campaign_id, scope_key, observed_at, period_start, period_end,
        'total' as breakdown_type,
        'total' as breakdown_value,
        'campaign_stats' as endpoint,
        field,
        etl__snake(field) as metric,
        cast(v as varchar) as raw_value,
        case when reason is null then number end as value,
        unit,
        currency,
        reason
    from checked
),

final as (
    select 'shoplive' as provider, account_id, campaign_id, scope_key, observed_at, period_start, period_end,
        breakdown_type, breakdown_value, endpoint, field, metric, raw_value, value, unit, currency, reason
    from parsed
)

select * from final
