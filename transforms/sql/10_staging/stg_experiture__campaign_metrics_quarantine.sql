-- materialize: quarantine
-- inputs: experiture_metrics
-- grain: one row per counter of the newest /metrics pull of a campaign that is not a number (or counts that is
-- neither an object nor null); such values are kept out of the fact and listed here with the raw text.
with source as (
    select account_id, campaign_id, scope_key, cast(fetched_at as timestamp) as observed_at, payload
    from cur_experiture_metrics
),

bad_counters as (
    select s.account_id, s.campaign_id, s.scope_key, s.observed_at,
        'counts.' || c.key as field, c.value ->> '$' as raw_value,
        'not a count (' || lower(c.type) || ')' as reason
    from source as s, json_each(s.payload -> '$.counts') as c
    where json_type(s.payload -> '$.counts') = 'OBJECT'
      and c.type not in ('BIGINT', 'UBIGINT', 'DOUBLE', 'NULL')
      and not (c.type = 'VARCHAR'
               and regexp_full_match(trim(c.value ->> '$'), '[+-]?(\d{1,3}(,\d{3})+|\d+)(\.\d+)?'))
),

bad_counts as (
    select account_id, campaign_id, scope_key, observed_at, 'counts' as field,
        cast(payload -> '$.counts' as varchar) as raw_value, 'counts is not an object' as reason
    from source
    where (payload -> '$.counts') is not null
      and json_type(payload -> '$.counts') not in ('OBJECT', 'NULL')
),

final as (
    select 'experiture' as provider, account_id, campaign_id, 'metrics' as endpoint, field, raw_value, reason,
        observed_at, scope_key
    from (select * from bad_counters union all select * from bad_counts)
)

select * from final
