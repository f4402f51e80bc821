-- materialize: intermediate
-- grain: one row per candidate metric field of the newest /metrics pull of each campaign (scope
-- experiture|default|<uuid>|metrics): every counter under data.counts (scheduled, hydrated, composed, injected,
-- sent, failed, and any counter the API adds later), all of kind count, named in snake_case; plus one row when
-- counts is missing or not an object. Lifetime totals over every execution: no period, breakdown total. An
-- empty pull (campaign deleted, 404) gives no rows, which removes the campaign from the fact. Experiture's `sent`
-- means confirmed delivered; the conformed mapping lives in the seed, not here.
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
    from (select *, unnest(etl__members(payload -> '$.counts')) as c
          from source where json_type(payload -> '$.counts') = 'OBJECT') as s
),

missing_blocks as (
    -- DOC (docs/providers/experiture.md, Warehouse mapping): counts = null means never executed, nothing to
    -- load; an answer without counts, or with counts of another type, lost its figures
    select account_id, campaign_id, scope_key, observed_at,
        'counts' as field,
        payload -> '$.counts' as v,
        'block' as kind,
        case when not coalesce(json_exists(payload, '$.counts'), false) then 'missing block'
             else 'not an object' end as block_reason
    from source
    where coalesce(json_type(payload -> '$.counts'), 'MISSING') not in ('OBJECT', 'NULL')
),

final as (
    select 'experiture' as provider, account_id, campaign_id, scope_key, observed_at,
        'total' as breakdown_type,
        'total' as breakdown_value,
        'metrics' as endpoint,
        field, metric, v, kind, block_reason
    from (select * from counters union all by name select * from missing_blocks)
)

select * from final
