-- materialize: fact
-- inputs: insider_campaign_metrics, insider_overall_metrics
-- grain: one row per (partner, campaign, breakdown, metric, window) from the newest pull of each window.
-- campaign-metrics owns the breakdowns: deviceMetrics -> device/<device>, unsuccessfulMessages.dropped ->
-- drop_reason/<label>, .undelivered -> undelivered_reason/<label> (another group g -> <g>_reason),
-- clickMetrics (older API) -> click_action/<name>. Its overview strings repeat overall-metrics' totals, so an
-- overview leaf (or an unknown top-level number) becomes a 'total' row only when the same window's
-- overall-metrics record of the campaign has no field of that name: no fact key is produced twice.
with source as (
    select account_id, campaign_id, scope_key,
        cast(window_start as timestamp) as period_start,
        cast(window_end as timestamp) as period_end,
        cast(fetched_at as timestamp) as observed_at,
        payload,
        payload ->> '$.preferredCurrency' as account_currency
    from cur_insider_campaign_metrics
),

owned as (
    select o.scope_key, o.campaign_id, insider__snake(f.key) as metric
    from cur_insider_overall_metrics as o, json_each(o.payload) as f
    where json_type(o.payload) = 'OBJECT'
),

entries as (
    select s.*, 'device' as breakdown_type, e.value ->> '$.device' as breakdown_value, e.value as entry,
        1 as priority
    from source as s, json_each(s.payload -> '$.deviceMetrics') as e
    where json_type(s.payload -> '$.deviceMetrics') = 'ARRAY'
    union all
    select s.*,
        case g.key when 'dropped' then 'drop_reason' when 'undelivered' then 'undelivered_reason'
                   else insider__snake(g.key) || '_reason' end as breakdown_type,
        e.value ->> '$.label' as breakdown_value, e.value as entry, 1 as priority
    from source as s, json_each(s.payload -> '$.unsuccessfulMessages') as g, json_each(g.value) as e
    where json_type(s.payload -> '$.unsuccessfulMessages') = 'OBJECT' and json_type(g.value) = 'ARRAY'
    union all
    select s.*, 'click_action' as breakdown_type, e.value ->> '$.name' as breakdown_value, e.value as entry,
        1 as priority
    from source as s, json_each(s.payload -> '$.clickMetrics') as e
    where json_type(s.payload -> '$.clickMetrics') = 'ARRAY'
),

entry_fields as (
    select e.account_id, e.campaign_id, e.scope_key, e.period_start, e.period_end, e.observed_at,
        e.account_currency, e.breakdown_type, coalesce(e.breakdown_value, '(unknown)') as breakdown_value,
        f.key as field, f.value as raw_value, insider__display_kind(f.key) as kind, e.priority
    from entries as e, json_each(e.entry) as f
    where json_type(e.entry) = 'OBJECT'
),

total_fields as (
    select s.account_id, s.campaign_id, s.scope_key, s.period_start, s.period_end, s.observed_at,
        s.account_currency, 'total' as breakdown_type, 'total' as breakdown_value,
        t.key as field, t.value as raw_value, insider__display_kind(t.key) as kind, 2 as priority
    from source as s, json_tree(s.payload -> '$.overview') as t
    where json_type(s.payload -> '$.overview') = 'OBJECT'
      and t.type not in ('OBJECT', 'ARRAY') and t.key is not null and t.fullkey not like '%[%'
    union all
    select s.account_id, s.campaign_id, s.scope_key, s.period_start, s.period_end, s.observed_at,
        s.account_currency, 'total' as breakdown_type, 'total' as breakdown_value,
        f.key as field, f.value as raw_value, insider__top_kind(f.key) as kind, 3 as priority
    from source as s, json_each(s.payload) as f
    where json_type(s.payload) = 'OBJECT' and f.type not in ('OBJECT', 'ARRAY')
),

unowned_totals as (
    select t.*
    from total_fields as t
    where not exists (
        select 1 from owned as o
        where o.scope_key = t.scope_key and o.campaign_id = t.campaign_id and o.metric = insider__snake(t.field))
),

parsed as (
    select account_id, campaign_id, scope_key, period_start, period_end, observed_at, breakdown_type,
        breakdown_value, priority,
        insider__snake(field) as metric,
        insider__value(raw_value, kind) as value,
        insider__unit(raw_value, kind) as unit,
        insider__currency(raw_value, kind, account_currency) as currency
    from (select * from entry_fields union all select * from unowned_totals)
    where kind <> 'descriptive'
),

final as (
    select 'insider' as provider, account_id, campaign_id, breakdown_type, breakdown_value,
        period_start, period_end, metric, value, unit, currency, observed_at, scope_key
    from parsed
    where value is not null
    qualify row_number() over (
        partition by scope_key, account_id, campaign_id, breakdown_type, breakdown_value, metric
        order by priority, observed_at desc) = 1
)

select * from final
