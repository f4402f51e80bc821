-- materialize: quarantine
-- inputs: shoplive_campaign_stats
-- grain: one row per known Shoplive stats field whose value cannot be read, from the newest pull of each window.
-- Unknown fields that are not numbers are not failures (they stay in raw), nor are JSON nulls.
with source as (
    select account_id, campaign_id, scope_key, cast(fetched_at as timestamp) as observed_at, payload
    from cur_shoplive_campaign_stats
),

fields as (
    select s.*, f.key as field, f.value as raw_value, shoplive__stats_kind(f.key) as kind
    from source as s, json_each(s.payload) as f
    where json_type(s.payload) = 'OBJECT'
),

final as (
    select 'shoplive' as provider, account_id, campaign_id, 'campaign_stats' as endpoint, field,
        cast(raw_value as varchar) as raw_value, shoplive__reason(raw_value, kind) as reason, observed_at, scope_key
    from fields
    where shoplive__reason(raw_value, kind) is not null
)

select * from final
