-- materialize: intermediate
-- grain: one row per candidate metric field of the newest pull of each window, with its kind
-- (00_macros/insider_kinds.sql) and priority: every non-descriptive field of an overall-metrics record
-- (breakdown total, priority 0: overall-metrics owns every total it reports: counts, rates already 0..1, days
-- active, revenue in the account's preferredCurrency); every field of a campaign-metrics deviceMetrics ->
-- device/<device>, unsuccessfulMessages.dropped -> drop_reason/<label>, .undelivered -> undelivered_reason/<label>
-- (another group g -> <g>_reason) or clickMetrics (older API) -> click_action/<name> entry (priority 1); every
-- overview leaf (priority 2) and top-level scalar (priority 3) of campaign-metrics whose name the same window's
-- overall-metrics record of the campaign does not have (overview strings repeat overall-metrics' totals, so an
-- owned name is no candidate and no fact key is produced twice); plus one row per campaign-metrics block
-- (overview, deviceMetrics, unsuccessfulMessages) that is missing or null. Display strings ("1,234", "12.50%",
-- "2,480 TRY") are read by int_metric_values.sql; among candidates of one fact key the lowest priority wins.
with overall as (
    select account_id, campaign_id, scope_key, period_start, period_end, observed_at, payload
    from stg_insider__overall_metrics
    where is_current
),

metrics as (
    select account_id, campaign_id, scope_key, period_start, period_end, observed_at, payload,
        payload ->> '$.preferredCurrency' as account_currency
    from stg_insider__campaign_metrics
    where is_current
),

-- overall-metrics revenue carries no currency: it is the account's, named by the same window's campaign-metrics
-- answer for the campaign (NULL when that call was skipped)
currencies as (
    select scope_key, campaign_id, any_value(account_currency) as currency
    from metrics
    group by scope_key, campaign_id
),

owned as (
    select o.scope_key, o.campaign_id, etl__snake(f.key) as metric
    from overall as o, json_each(o.payload) as f
    where json_type(o.payload) = 'OBJECT'
),

overall_fields as (
    select o.account_id, o.campaign_id, o.scope_key, o.period_start, o.period_end, o.observed_at,
        'total' as breakdown_type,
        'total' as breakdown_value,
        'overall_metrics' as endpoint,
        f.key as field,
        etl__snake(f.key) as metric,
        f.value as v,
        insider__overall_kind(f.key) as kind,
        c.currency as account_currency,
        0 as priority
    from overall as o
    join json_each(o.payload) as f on true
    left join currencies as c on c.scope_key = o.scope_key and c.campaign_id = o.campaign_id
    where json_type(o.payload) = 'OBJECT'
),

entries as (
    select m.*,
        'device' as breakdown_type,
        e.value ->> '$.device' as breakdown_value,
        'deviceMetrics[' || coalesce(e.value ->> '$.device', '?') || ']' as entry_path,
        e.value as entry
    from metrics as m, json_each(m.payload -> '$.deviceMetrics') as e
    where json_type(m.payload -> '$.deviceMetrics') = 'ARRAY'
    union all
    select m.*,
        case g.key when 'dropped' then 'drop_reason' when 'undelivered' then 'undelivered_reason'
                   else etl__snake(g.key) || '_reason' end as breakdown_type,
        e.value ->> '$.label' as breakdown_value,
        'unsuccessfulMessages.' || g.key || '[' || coalesce(e.value ->> '$.label', '?') || ']' as entry_path,
        e.value as entry
    from metrics as m, json_each(m.payload -> '$.unsuccessfulMessages') as g, json_each(g.value) as e
    where json_type(m.payload -> '$.unsuccessfulMessages') = 'OBJECT' and json_type(g.value) = 'ARRAY'
    union all
    select m.*,
        'click_action' as breakdown_type,
        e.value ->> '$.name' as breakdown_value,
        'clickMetrics[' || coalesce(e.value ->> '$.name', '?') || ']' as entry_path,
        e.value as entry
    from metrics as m, json_each(m.payload -> '$.clickMetrics') as e
    where json_type(m.payload -> '$.clickMetrics') = 'ARRAY'
),

entry_fields as (
    select e.account_id, e.campaign_id, e.scope_key, e.period_start, e.period_end, e.observed_at,
        e.breakdown_type,
        coalesce(e.breakdown_value, '(unknown)') as breakdown_value,
        'campaign_metrics' as endpoint,
        e.entry_path || '.' || f.key as field,
        etl__snake(f.key) as metric,
        f.value as v,
        insider__display_kind(f.key) as kind,
        e.account_currency,
        1 as priority
    from entries as e, json_each(e.entry) as f
    where json_type(e.entry) = 'OBJECT'
),

total_fields as (
    select m.account_id, m.campaign_id, m.scope_key, m.period_start, m.period_end, m.observed_at,
        'total' as breakdown_type,
        'total' as breakdown_value,
        'campaign_metrics' as endpoint,
        'overview' || substr(t.fullkey, 2) as field,
        etl__snake(t.key) as metric,
        t.value as v,
        insider__display_kind(t.key) as kind,
        m.account_currency,
        2 as priority
    from metrics as m, json_tree(m.payload -> '$.overview') as t
    where json_type(m.payload -> '$.overview') = 'OBJECT'
      and t.type not in ('OBJECT', 'ARRAY') and t.key is not null and t.fullkey not like '%[%'
    union all
    select m.account_id, m.campaign_id, m.scope_key, m.period_start, m.period_end, m.observed_at,
        'total' as breakdown_type,
        'total' as breakdown_value,
        'campaign_metrics' as endpoint,
        f.key as field,
        etl__snake(f.key) as metric,
        f.value as v,
        insider__top_kind(f.key) as kind,
        m.account_currency,
        3 as priority
    from metrics as m, json_each(m.payload) as f
    where json_type(m.payload) = 'OBJECT' and f.type not in ('OBJECT', 'ARRAY')
),

unowned_totals as (
    select t.*
    from total_fields as t
    where not exists (
        select 1 from owned as o
        where o.scope_key = t.scope_key and o.campaign_id = t.campaign_id and o.metric = t.metric)
),

candidates as (
    select * from overall_fields
    union all
    select * from entry_fields
    union all
    select * from unowned_totals
),

blocks as (
    select m.*, b.block, b.expected_type
    from metrics as m,
        (values ('overview', 'OBJECT'), ('deviceMetrics', 'ARRAY'), ('unsuccessfulMessages', 'OBJECT'))
            as b (block, expected_type)
    where json_type(m.payload) = 'OBJECT'
),

missing_blocks as (
    -- the documented answer always carries these blocks; without one, its breakdown rows would vanish unseen
    select account_id, campaign_id, scope_key, observed_at, period_start, period_end,
        cast(null as varchar) as breakdown_type,
        cast(null as varchar) as breakdown_value,
        'campaign_metrics' as endpoint,
        block as field,
        payload -> ('$.' || block) as v,
        'block' as kind,
        case when not json_exists(payload, '$.' || block) then 'missing block'
             when json_type(payload -> ('$.' || block)) = 'NULL' then 'null block'
             else 'not an ' || lower(expected_type) end as block_reason
    from blocks
    where coalesce(json_type(payload -> ('$.' || block)), 'NULL') <> expected_type
),

final as (
    select 'insider' as provider, account_id, campaign_id, scope_key, observed_at, period_start, period_end,
        breakdown_type, breakdown_value, endpoint, field, metric, v, kind, account_currency, priority, block_reason
    from (select * from candidates union all by name select * from missing_blocks)
)

select * from final
