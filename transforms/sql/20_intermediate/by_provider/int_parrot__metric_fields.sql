-- materialize: intermediate
-- grain: one row per candidate metric field of the newest metrics pull of each post campaign (scope
-- parrot|<account>|<id>|metrics): every leaf under data.metrics except updated_at, all of kind count, named by
-- its leaf name in snake_case (a nested leaf by its path below metrics joined with '_'); plus one row when
-- data.metrics is missing or not an object. Lifetime snapshots: no period, breakdown total. The source writes a
-- pull only for `ready` answers and for `updating` answers it loads as stale (their previous values);
-- staleness is in dim_campaign.details (metrics_stale, metrics_updated_at), not in the value. An empty pull
-- (404) gives no rows, removing the campaign from the fact.
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

missing_blocks as (
    -- the source refuses such answers (an extraction error); a raw row without the block still gets a row here
    select account_id, campaign_id, scope_key, observed_at,
        'metrics' as field,
        payload -> '$.data.metrics' as v,
        'block' as kind,
        case when not coalesce(json_exists(payload, '$.data.metrics'), false) then 'missing block'
             when json_type(payload -> '$.data.metrics') = 'NULL' then 'null block'
             else 'not an object' end as block_reason
    from source
    where coalesce(json_type(payload -> '$.data.metrics'), 'NULL') <> 'OBJECT'
),

final as (
    select 'parrot' as provider, account_id, campaign_id, scope_key, observed_at,
        'total' as breakdown_type,
        'total' as breakdown_value,
        'metrics' as endpoint,
        field, metric, v, kind, block_reason
    from (select * from leaves union all by name select * from missing_blocks)
)

select * from final
