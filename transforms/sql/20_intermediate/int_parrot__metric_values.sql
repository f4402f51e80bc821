-- materialize: intermediate
-- grain: one row per candidate metric value of the newest metrics pull of each post campaign (scope
-- parrot|<account>|<id>|metrics): every leaf under data.metrics except updated_at, all of kind count, named by
-- its leaf name in snake_case (a nested leaf by its path below metrics joined with '_'); plus one row when
-- data.metrics is missing or not an object. Lifetime snapshots: no period, breakdown total. value is set when
-- published, reason when quarantined (00_macros/values.sql); 30_marts/fct_parrot__metrics.sql and
-- quarantine_parrot__values.sql only filter this relation, so they cannot disagree.
with source as (
    select account_id, campaign_id, scope_key, observed_at, payload
    from stg_parrot__metrics
    where is_current
),

-- DOC (docs/providers/parrot.md, asynchronous metrics protocol): a `starting` answer, or one whose
-- metrics.updated_at is null, holds placeholder zeros, never figures: nothing to load (and nothing to quarantine)
computed as (
    select *
    from source
    where coalesce(payload ->> '$.data.status', '') <> 'starting'
      and (payload ->> '$.data.metrics.updated_at') is not null
),

leaves as (
    select s.account_id, s.campaign_id, s.scope_key, s.observed_at,
        'metrics' || substr(l.fullkey, 2) as field,
        etl__snake(regexp_replace(regexp_replace(substr(l.fullkey, 3), '[.\[\]"]+', '_', 'g'), '_$', ''))
            as metric,
        l.value as v,
        'count' as kind
    from computed as s, json_tree(s.payload -> '$.data.metrics') as l
    where json_type(s.payload -> '$.data.metrics') = 'OBJECT'
      and l.type not in ('OBJECT', 'ARRAY')
      and l.fullkey <> '$.updated_at'
),

readings as (
    -- each macro once per row (a macro is inlined where it is used): value and reason below are
    -- etl__value(v, kind) and etl__reason(v, kind) = etl__check(v, kind, etl__read(v, kind), etl__unit(v, kind))
    select *,
        etl__read(v, kind) as number,
        etl__unit(v, kind) as unit,
        etl__currency(v, kind, null) as currency
    from leaves
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
    -- the source refuses such answers (an extraction error); a raw row without the block still gets a row here
    select account_id, campaign_id, scope_key, observed_at,
        'metrics' as field,
        cast(null as varchar) as metric,
        cast(payload -> '$.data.metrics' as varchar) as raw_value,
        cast(null as double) as value,
        cast(null as varchar) as unit,
        cast(null as varchar) as currency,
        case when not coalesce(json_exists(payload, '$.data.metrics'), false) then 'missing block'
             when json_type(payload -> '$.data.metrics') = 'NULL' then 'null block'
             else 'not an object' end as reason
    from source
    where coalesce(json_type(payload -> '$.data.metrics'), 'NULL') <> 'OBJECT'
),

final as (
    select 'parrot' as provider, account_id, campaign_id, scope_key, observed_at,
        cast(null as timestamp) as period_start,
        cast(null as timestamp) as period_end,
        'total' as breakdown_type,
        'total' as breakdown_value,
        'metrics' as endpoint,
        field, metric, raw_value, value, unit, currency, reason
    from (select * from parsed union all select * from missing_blocks)
)

select * from final
