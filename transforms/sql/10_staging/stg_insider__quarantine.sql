-- materialize: quarantine
-- inputs: insider_overall_metrics, insider_campaign_metrics
-- grain: one row per known Insider metric field whose value cannot be read, from the newest pull of each window.
-- Mirrors the field selection of stg_insider__overall_metrics.sql and stg_insider__campaign_metrics.sql; unknown
-- fields that are not numbers are not failures (they stay in raw), nor are JSON nulls and bare currency codes.
with overall as (
    select account_id, campaign_id, scope_key, cast(fetched_at as timestamp) as observed_at, payload
    from cur_insider_overall_metrics
),

metrics as (
    select account_id, campaign_id, scope_key, cast(fetched_at as timestamp) as observed_at, payload
    from cur_insider_campaign_metrics
),

owned as (
    select o.scope_key, o.campaign_id, insider__snake(f.key) as metric
    from overall as o, json_each(o.payload) as f
    where json_type(o.payload) = 'OBJECT'
),

candidates as (
    select o.account_id, o.campaign_id, o.scope_key, o.observed_at, 'overall_metrics' as endpoint,
        f.key as field, f.value as raw_value, insider__overall_kind(f.key) as kind
    from overall as o, json_each(o.payload) as f
    where json_type(o.payload) = 'OBJECT'
    union all
    select m.account_id, m.campaign_id, m.scope_key, m.observed_at, 'campaign_metrics' as endpoint,
        'deviceMetrics[' || coalesce(e.value ->> '$.device', '?') || '].' || f.key as field, f.value as raw_value,
        insider__display_kind(f.key) as kind
    from metrics as m, json_each(m.payload -> '$.deviceMetrics') as e, json_each(e.value) as f
    where json_type(m.payload -> '$.deviceMetrics') = 'ARRAY' and json_type(e.value) = 'OBJECT'
    union all
    select m.account_id, m.campaign_id, m.scope_key, m.observed_at, 'campaign_metrics' as endpoint,
        'unsuccessfulMessages.' || g.key || '[' || coalesce(e.value ->> '$.label', '?') || '].' || f.key as field,
        f.value as raw_value, insider__display_kind(f.key) as kind
    from metrics as m, json_each(m.payload -> '$.unsuccessfulMessages') as g, json_each(g.value) as e,
        json_each(e.value) as f
    where json_type(m.payload -> '$.unsuccessfulMessages') = 'OBJECT' and json_type(g.value) = 'ARRAY'
      and json_type(e.value) = 'OBJECT'
    union all
    select m.account_id, m.campaign_id, m.scope_key, m.observed_at, 'campaign_metrics' as endpoint,
        'clickMetrics[' || coalesce(e.value ->> '$.name', '?') || '].' || f.key as field, f.value as raw_value,
        insider__display_kind(f.key) as kind
    from metrics as m, json_each(m.payload -> '$.clickMetrics') as e, json_each(e.value) as f
    where json_type(m.payload -> '$.clickMetrics') = 'ARRAY' and json_type(e.value) = 'OBJECT'
    union all
    select m.account_id, m.campaign_id, m.scope_key, m.observed_at, 'campaign_metrics' as endpoint,
        'overview' || substr(t.fullkey, 2) as field, t.value as raw_value, insider__display_kind(t.key) as kind
    from metrics as m, json_tree(m.payload -> '$.overview') as t
    where json_type(m.payload -> '$.overview') = 'OBJECT'
      and t.type not in ('OBJECT', 'ARRAY') and t.key is not null and t.fullkey not like '%[%'
      and not exists (
          select 1 from owned as o
          where o.scope_key = m.scope_key and o.campaign_id = m.campaign_id and o.metric = insider__snake(t.key))
),

final as (
    select 'insider' as provider, account_id, campaign_id, endpoint, field,
        cast(raw_value as varchar) as raw_value, insider__reason(raw_value, kind) as reason, observed_at, scope_key
    from candidates
    where insider__reason(raw_value, kind) is not null
)

select * from final
