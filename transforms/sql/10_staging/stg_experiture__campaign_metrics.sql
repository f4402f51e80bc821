-- materialize: fact
-- inputs: experiture_metrics
-- grain: one row per (campaign, metric) from the newest pull of each campaign
-- (scope experiture|default|<uuid>|metrics).
-- Every counter under data.counts of /metrics becomes a metric (scheduled, hydrated, composed, injected, sent,
-- failed, and any counter the API adds later), named as the API names it in snake_case. The counts are lifetime
-- totals over every execution of the campaign: no period, breakdown total. counts = null (never executed) gives no
-- rows; an empty pull (campaign deleted, 404) gives no rows, which removes the campaign from the fact.
-- Note: Experiture's `sent` means confirmed delivered; the conformed mapping lives in the seed, not here.
with source as (
    select account_id, campaign_id, scope_key, cast(fetched_at as timestamp) as observed_at, payload
    from cur_experiture_metrics
),

counters as (
    select s.account_id, s.campaign_id, s.scope_key, s.observed_at,
        lower(regexp_replace(c.key, '([a-z0-9])([A-Z])', '\1_\2', 'g')) as metric,
        c.value ->> '$' as raw_value, c.type as value_type
    from source as s, json_each(s.payload -> '$.counts') as c
    where json_type(s.payload -> '$.counts') = 'OBJECT'
),

parsed as (
    select *,
        case when value_type in ('BIGINT', 'UBIGINT', 'DOUBLE') then cast(raw_value as double)
             when value_type = 'VARCHAR' and regexp_full_match(trim(raw_value), '[+-]?(\d{1,3}(,\d{3})+|\d+)(\.\d+)?')
                 then cast(replace(trim(raw_value), ',', '') as double)
        end as value
    from counters
),

final as (
    select 'experiture' as provider, account_id, campaign_id,
        'total' as breakdown_type, 'total' as breakdown_value,
        cast(null as timestamp) as period_start, cast(null as timestamp) as period_end,
        metric, value, 'count' as unit, cast(null as varchar) as currency, observed_at, scope_key
    from parsed
    where value is not null
)

select * from final
