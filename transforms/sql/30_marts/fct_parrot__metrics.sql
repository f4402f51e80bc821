-- materialize: fact
-- grain: one row per (post campaign, metric) from the newest metrics pull of each campaign
-- (scope parrot|<account>|<id>|metrics).
-- The published values of int_parrot__metric_values.sql: every leaf under data.metrics except updated_at that
-- reads as a count (a number, or number text "1,733"), named by its leaf name in snake_case. Values are lifetime
-- snapshots: no period, breakdown total. The source writes a pull only for `ready` answers and for `updating`
-- answers it loads as stale (their previous values); the intermediate also refuses `starting` answers and
-- answers without updated_at, so placeholder zeros can never become facts. Staleness is in
-- dim_campaign.details (metrics_stale, metrics_updated_at), not in the value. An empty pull (404) gives no rows,
-- removing the campaign from the fact. Leaves with a reason are in quarantine_parrot__values.sql.
with metric_values as (
    select *
    from int_parrot__metric_values
),

final as (
    select provider, account_id, campaign_id, breakdown_type, breakdown_value, period_start, period_end,
        metric, value, unit, currency, observed_at, scope_key
    from metric_values
    where value is not null and reason is null
)

select * from final
