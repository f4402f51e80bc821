-- materialize: fact
-- grain: one row per (access key, campaign, metric, window) from the newest pull of each window.
-- The published values of int_shoplive__metric_values.sql: every stats field that reads as a number (floats
-- 1.0 and number text "1,234" included) is a breakdown 'total' metric for the requested window (averages and
-- peaks are per window, never to be summed across windows); an unknown field is loaded when it reads as a
-- number; values with a reason are in quarantine_shoplive__values.sql instead.
with metric_values as (
    select *
    from int_shoplive__metric_values
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
