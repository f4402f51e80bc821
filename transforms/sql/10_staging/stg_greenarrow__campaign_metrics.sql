-- materialize: fact
-- inputs: greenarrow_campaigns
-- grain: one row per (list, campaign, breakdown, metric) from the newest details pull of each campaign.
-- Every numeric field of stat_summary (campaign total) and of each content_stats slice becomes a metric;
-- bounces_unique_by_code becomes rows of breakdown bounce_code (content_bounce_code for a content slice).
-- stat_id / stat_slice_id are identifiers, not metrics. GreenArrow figures are lifetime totals: no period.
with source as (
    select account_id, campaign_id, scope_key, cast(fetched_at as timestamp) as observed_at, payload
    from cur_greenarrow_campaigns
),

summaries as (
    select account_id, campaign_id, scope_key, observed_at,
        'total' as breakdown_type, 'total' as breakdown_value, payload -> '$.stat_summary' as summary
    from source
    union all
    select s.account_id, s.campaign_id, s.scope_key, s.observed_at,
        'content' as breakdown_type, cs.value ->> '$.content.id' as breakdown_value, cs.value -> '$.stat_summary' as summary
    from source as s, json_each(s.payload -> '$.content_stats') as cs
),

fields as (
    select s.*, f.key as field, f.value as field_value, f.type as field_type
    from summaries as s, json_each(s.summary) as f
    where json_type(s.summary) = 'OBJECT'
),

numeric_fields as (
    select account_id, campaign_id, scope_key, observed_at, breakdown_type, breakdown_value,
        field as metric, cast(field_value as double) as value
    from fields
    where field_type in ('BIGINT', 'UBIGINT', 'DOUBLE')
      and field not in ('stat_id', 'stat_slice_id')
),

bounce_codes as (
    select f.account_id, f.campaign_id, f.scope_key, f.observed_at,
        case when f.breakdown_type = 'total' then 'bounce_code' else 'content_bounce_code' end as breakdown_type,
        case when f.breakdown_type = 'total' then c.key else f.breakdown_value || '/' || c.key end as breakdown_value,
        'bounces_unique' as metric, cast(c.value as double) as value
    from fields as f, json_each(f.field_value) as c
    where f.field = 'bounces_unique_by_code' and f.field_type = 'OBJECT'
      and c.type in ('BIGINT', 'UBIGINT', 'DOUBLE')
),

final as (
    select 'greenarrow' as provider, account_id, campaign_id, breakdown_type, breakdown_value,
        cast(null as timestamp) as period_start, cast(null as timestamp) as period_end,
        metric, value,
        case when metric = 'open_ratio' then 'multiple'      -- opens_total / opens_unique, >= 1
             when metric like '%\_rate' escape '\' or metric like '%\_rate\_%' escape '\' then 'ratio'
             else 'count' end as unit,
        cast(null as varchar) as currency, observed_at, scope_key
    from (select * from numeric_fields union all select * from bounce_codes)
)

select * from final
