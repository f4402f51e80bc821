-- materialize: fact
-- grain: one row per (partner, campaign, breakdown, metric, window) from the newest pull of each window.
-- overall-metrics owns every breakdown 'total' figure it reports: the campaign's counts, rates (already 0..1),
-- days active and revenue for the requested window (revenue in the account's preferredCurrency, read from the
-- same window's campaign-metrics answer; NULL when that call was skipped), unknown numeric fields included.
-- campaign-metrics owns the breakdowns: deviceMetrics -> device/<device>, unsuccessfulMessages.dropped ->
-- drop_reason/<label>, .undelivered -> undelivered_reason/<label> (another group g -> <g>_reason),
-- clickMetrics (older API) -> click_action/<name>. Its overview strings repeat overall-metrics' totals, so an
-- overview leaf (or an unknown top-level number) is a 'total' candidate only when the same window's
-- overall-metrics record of the campaign has no field of that name (int_insider__metric_values.sql): no fact key
-- is produced twice. Display strings ("1,234", "12.50%", "2,480 TRY") are parsed there; values with a reason
-- are in quarantine_insider__values.sql instead. Among campaign-metrics candidates of one key, the lowest
-- priority wins (entries, then overview leaves, then top-level scalars).
with metric_values as (
    select *
    from int_insider__metric_values
    where value is not null and reason is null
),

overall_metrics as (
    select provider, account_id, campaign_id, breakdown_type, breakdown_value, period_start, period_end,
        metric, value, unit, currency, observed_at, scope_key
    from metric_values
    where endpoint = 'overall_metrics'
    qualify row_number() over (
        partition by scope_key, account_id, campaign_id, metric order by observed_at desc) = 1
),

campaign_metrics as (
    select provider, account_id, campaign_id, breakdown_type, breakdown_value, period_start, period_end,
        metric, value, unit, currency, observed_at, scope_key
    from metric_values
    where endpoint = 'campaign_metrics'
    qualify row_number() over (
        partition by scope_key, account_id, campaign_id, breakdown_type, breakdown_value, metric
        order by priority, observed_at desc) = 1
),

final as (
    select * from overall_metrics
    union all
    select * from campaign_metrics
)

select * from final
