-- materialize: fact
-- inputs: insider_overall_metrics, insider_campaign_metrics
-- grain: one row per (partner, campaign, metric, window) from the newest pull of each window.
-- overall-metrics owns every breakdown 'total' figure it reports: the campaign's counts, rates (already 0..1),
-- days active and revenue for the requested window. Revenue carries no currency in this endpoint; it is the
-- account's preferredCurrency, read from the same window's campaign-metrics answer for the campaign (NULL when
-- that call was skipped). Unknown fields are loaded when they hold a number; unreadable known fields go to
-- quarantine (stg_insider__quarantine.sql).
with source as (
    select account_id, campaign_id, scope_key,
        cast(window_start as timestamp) as period_start,
        cast(window_end as timestamp) as period_end,
        cast(fetched_at as timestamp) as observed_at,
        payload
    from cur_insider_overall_metrics
),

currencies as (
    select scope_key, campaign_id, any_value(payload ->> '$.preferredCurrency') as currency
    from cur_insider_campaign_metrics
    group by scope_key, campaign_id
),

fields as (
    select s.*, f.key as field, f.value as raw_value, insider__overall_kind(f.key) as kind
    from source as s, json_each(s.payload) as f
    where json_type(s.payload) = 'OBJECT'
),

parsed as (
    select f.account_id, f.campaign_id, f.scope_key, f.period_start, f.period_end, f.observed_at,
        insider__snake(f.field) as metric,
        insider__value(f.raw_value, f.kind) as value,
        insider__unit(f.raw_value, f.kind) as unit,
        insider__currency(f.raw_value, f.kind, c.currency) as currency
    from fields as f
    left join currencies as c on c.scope_key = f.scope_key and c.campaign_id = f.campaign_id
    where f.kind <> 'descriptive'
),

final as (
    select 'insider' as provider, account_id, campaign_id, 'total' as breakdown_type, 'total' as breakdown_value,
        period_start, period_end, metric, value, unit, currency, observed_at, scope_key
    from parsed
    where value is not null
    qualify row_number() over (
        partition by scope_key, account_id, campaign_id, metric order by observed_at desc) = 1
)

select * from final
