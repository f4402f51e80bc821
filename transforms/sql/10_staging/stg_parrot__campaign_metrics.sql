-- materialize: fact
-- inputs: parrot_metrics
-- grain: one row per (post campaign, metric) from the newest metrics pull of each campaign
-- (scope parrot|<account>|<id>|metrics).
-- Every integer (numeric) leaf under data.metrics except updated_at becomes a metric, named by its leaf name in
-- snake_case (a nested leaf by its path below metrics joined with '_'). Values are lifetime snapshots: no period,
-- breakdown total. The source writes a pull only for `ready` answers and for `updating` answers it loads as stale
-- (their previous values); the filter below also refuses `starting` answers and answers without updated_at, so
-- placeholder zeros can never become facts. Staleness is in dim_campaign.details (metrics_stale,
-- metrics_updated_at), not in the value. An empty pull (404) gives no rows, removing the campaign from the fact.
with source as (
    select account_id, campaign_id, scope_key, cast(fetched_at as timestamp) as observed_at, payload
    from cur_parrot_metrics
    where coalesce(payload ->> '$.data.status', '') <> 'starting'
      and (payload ->> '$.data.metrics.updated_at') is not null
),

leaves as (
    select s.account_id, s.campaign_id, s.scope_key, s.observed_at,
        lower(regexp_replace(regexp_replace(regexp_replace(substr(l.fullkey, 3), '[.\[\]"]+', '_', 'g'),
                                            '_$', ''),
                             '([a-z0-9])([A-Z])', '\1_\2', 'g')) as metric,
        l.value ->> '$' as raw_value, l.type as value_type
    from source as s, json_tree(s.payload -> '$.data.metrics') as l
    where json_type(s.payload -> '$.data.metrics') = 'OBJECT'
      and l.type not in ('OBJECT', 'ARRAY')
      and l.fullkey <> '$.updated_at'
),

final as (
    select 'parrot' as provider, account_id, campaign_id,
        'total' as breakdown_type, 'total' as breakdown_value,
        cast(null as timestamp) as period_start, cast(null as timestamp) as period_end,
        metric, cast(raw_value as double) as value, 'count' as unit, cast(null as varchar) as currency,
        observed_at, scope_key
    from leaves
    where value_type in ('BIGINT', 'UBIGINT', 'DOUBLE')
)

select * from final
