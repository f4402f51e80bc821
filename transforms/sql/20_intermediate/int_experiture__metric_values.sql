-- materialize: intermediate
-- grain: one row per candidate metric value of the newest /metrics pull of each campaign (scope
-- experiture|default|<uuid>|metrics): every counter under data.counts (scheduled, hydrated, composed, injected,
-- sent, failed, and any counter the API adds later), all of kind count, named in snake_case; plus one row when
-- counts is missing or not an object. Lifetime totals over every execution: no period, breakdown total. value
-- is set when published, reason when quarantined (00_macros/values.sql); 30_marts/fct_experiture__metrics.sql
-- and quarantine_experiture__values.sql only filter this relation, so they cannot disagree.
with source as (
    select account_id, campaign_id, scope_key, observed_at, payload
    from stg_experiture__metrics
    where is_current
),

counters as (
    select s.account_id, s.campaign_id, s.scope_key, s.observed_at,
        'counts.' || c.key as field,
        etl__snake(c.key) as metric,
        c.value as v,
        'count' as kind
    from source as s, json_each(s.payload -> '$.counts') as c
    where json_type(s.payload -> '$.counts') = 'OBJECT'
),

readings as (
    -- each macro once per row (a macro is inlined where it is used): value and reason below are
    -- etl__value(v, kind) and etl__reason(v, kind) = etl__check(v, kind, etl__read(v, kind), etl__unit(v, kind))
    select *,
        etl__read(v, kind) as number,
        etl__unit(v, kind) as unit,
        etl__currency(v, kind, null) as currency
    from counters
),

checked as (
    select *, etl__check(v, kind, number, unit) as reason
    from readings
),

parsed as (
    select account_id, campaign_id, scope_key, observed_at, field, metric,
        cast(v as varchar) as raw_value,
        case when reason is null then number end as value,
        unit,
        currency,
        reason
    from checked
),

missing_blocks as (
    -- DOC (docs/providers/experiture.md, Warehouse mapping): counts = null means never executed, nothing to
    -- load; an answer without counts, or with counts of another type, lost its figures
    select account_id, campaign_id, scope_key, observed_at,
        'counts' as field,
        cast(null as varchar) as metric,
        cast(payload -> '$.counts' as varchar) as raw_value,
        cast(null as double) as value,
        cast(null as varchar) as unit,
        cast(null as varchar) as currency,
        case when not coalesce(json_exists(payload, '$.counts'), false) then 'missing block'
             else 'not an object' end as reason
    from source
    where coalesce(json_type(payload -> '$.counts'), 'MISSING') not in ('OBJECT', 'NULL')
),

final as (
    select 'experiture' as provider, account_id, campaign_id, scope_key, observed_at,
        cast(null as timestamp) as period_start,
        cast(null as timestamp) as period_end,
        'total' as breakdown_type,
        'total' as breakdown_value,
        'metrics' as endpoint,
        field, metric, raw_value, value, unit, currency, reason
    from (select * from parsed union all select * from missing_blocks)
)

select * from final
