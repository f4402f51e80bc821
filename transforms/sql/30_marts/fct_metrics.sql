-- materialize: fact
-- grain: one row per (provider, account, campaign, breakdown, metric, period) and pull: the published values of
-- 20_intermediate/int_metric_values.sql (what each provider offers is described in its field model,
-- 20_intermediate/by_provider/), from the newest pull of each scope (the history pass: the last pull of each
-- scope and day). Where a pull offers one fact key from more than one place (Insider: an entry, an overview leaf,
-- a top-level scalar), the lowest priority wins, so no key is produced twice. Values with a reason are in
-- quarantine_values.sql instead.
with metric_values as (
    select *
    from int_metric_values
    where value is not null and reason is null
),

final as (
    select provider, account_id, campaign_id, breakdown_type, breakdown_value, period_start, period_end,
        metric, value, unit, currency, observed_at, scope_key
    from metric_values
    qualify row_number() over (
        -- one pull is one observed_at (its fetch time)
        partition by provider, scope_key, observed_at, account_id, campaign_id, breakdown_type, breakdown_value,
            metric
        order by priority) = 1
)

select * from final
