-- materialize: fact
-- inputs: insider_campaign_metrics, insider_overall_metrics
-- grain: one row per (partner, campaign, breakdown, metric, window) from the newest pull of each window.
-- campaign-metrics owns the breakdowns: deviceMetrics -> device/<device>, unsuccessfulMessages.dropped ->
-- drop_reason/<label>, .undelivered -> undelivered_reason/<label> (another group g -> <g>_reason),
-- clickMetrics (older API) -> click_action/<name>. Its overview strings repeat overall-metrics' totals, so an
-- overview leaf (or an unknown top-level number) is a 'total' candidate only when the same window's
-- overall-metrics record of the campaign has no field of that name (int_insider__metric_values.sql): no fact key
-- is produced twice. Display strings ("1,234", "12.50%", "2,480 TRY") are parsed there; values with a reason
-- are in stg_insider__quarantine.sql instead. Among candidates of one key, the lowest priority wins (entries,
-- then overview leaves, then top-level scalars).
with metric_values as (
    select *
    from int_insider__metric_values
    where endpoint = 'campaign_metrics'
),

final as (
    select provider, account_id, campaign_id, breakdown_type, breakdown_value, period_start, period_end,
        metric, value, unit, currency, observed_at, scope_key
    from metric_values
    where value is not null and reason is null
    qualify row_number() over (
        partition by scope_key, account_id, campaign_id, breakdown_type, breakdown_value, metric
        order by priority, observed_at desc) = 1
)

select * from final
