-- materialize: quarantine
-- inputs: parrot_metrics
-- grain: one row per leaf under data.metrics of the newest metrics pull of a campaign that is not a number
-- (updated_at and nulls excepted); such values are kept out of the fact and listed here with the raw text.
with source as (
    select account_id, campaign_id, scope_key, cast(fetched_at as timestamp) as observed_at, payload
    from cur_parrot_metrics
    where coalesce(payload ->> '$.data.status', '') <> 'starting'
      and (payload ->> '$.data.metrics.updated_at') is not null
),

final as (
    select 'parrot' as provider, s.account_id, s.campaign_id, 'metrics' as endpoint,
        'metrics' || substr(l.fullkey, 2) as field, l.value ->> '$' as raw_value,
        'not a count (' || lower(l.type) || ')' as reason, s.observed_at, s.scope_key
    from source as s, json_tree(s.payload -> '$.data.metrics') as l
    where json_type(s.payload -> '$.data.metrics') = 'OBJECT'
      and l.type not in ('OBJECT', 'ARRAY', 'BIGINT', 'UBIGINT', 'DOUBLE', 'NULL')
      and l.fullkey <> '$.updated_at'
)

select * from final
