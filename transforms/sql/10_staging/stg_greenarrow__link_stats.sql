-- materialize: fact
-- inputs: greenarrow_link_stats
-- grain: one row per (list, campaign, link, metric) from the newest complete link_stats pull of each campaign.
with source as (
    select account_id, campaign_id, scope_key, cast(fetched_at as timestamp) as observed_at, payload
    from cur_greenarrow_link_stats
),

fields as (
    select s.account_id, s.campaign_id, s.scope_key, s.observed_at, s.payload ->> '$.link_id' as link_id,
        f.key as metric, f.value as field_value, f.type as field_type
    from source as s, json_each(s.payload) as f
),

final as (
    select 'greenarrow' as provider, account_id, campaign_id, 'link' as breakdown_type, link_id as breakdown_value,
        cast(null as timestamp) as period_start, cast(null as timestamp) as period_end,
        metric, cast(field_value as double) as value, 'count' as unit, cast(null as varchar) as currency,
        observed_at, scope_key
    from fields
    where field_type in ('BIGINT', 'UBIGINT', 'DOUBLE') and metric <> 'link_id'
)

select * from final
