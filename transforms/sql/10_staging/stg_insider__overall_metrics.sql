-- materialize: fact
-- inputs: insider_overall_metrics, insider_campaign_metrics
-- grain: one row per (partner, campaign, metric, window) from the newest pull of each window.
-- overall-metrics owns every breakdown 'total' figure it reports: the campaign's counts, rates (already 0..1),
-- days active and revenue for the requested window (revenue in the account's preferredCurrency, read from the
-- same window's campaign-metrics answer; NULL when that call was skipped). These are the published values of
-- int_insider__metric_values.sql for the overall-metrics endpoint: numbers, unknown numeric fields included;
-- values with a reason are in stg_insider__quarantine.sql instead.
with metric_values as (
    select *
    from int_insider__metric_values
    where endpoint = 'overall_metrics'
),

final as (
    select provider, account_id, campaign_id, breakdown_type, breakdown_value, period_start, period_end,
        metric, value, unit, currency, observed_at, scope_key
    from metric_values
    where value is not null and reason is null
    qualify row_number() over (
        partition by scope_key, account_id, campaign_id, metric order by observed_at desc) = 1
)

select * from final
