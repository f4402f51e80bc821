-- materialize: fact
-- grain: one row per (campaign, metric) from the newest pull of each campaign
-- (scope experiture|default|<uuid>|metrics).
-- The published values of int_experiture__metric_values.sql: every counter under data.counts of /metrics that
-- reads as a count (a number, or number text "1,234"), named as the API names it in snake_case. The counts are
-- lifetime totals over every execution of the campaign: no period, breakdown total. counts = null (never
-- executed) gives no rows; an empty pull (campaign deleted, 404) gives no rows, which removes the campaign from
-- the fact; counters with a reason are in quarantine_experiture__values.sql instead.
-- Note: Experiture's `sent` means confirmed delivered; the conformed mapping lives in the seed, not here.
with metric_values as (
    select *
    from int_experiture__metric_values
),

final as (
    select provider, account_id, campaign_id, breakdown_type, breakdown_value, period_start, period_end,
        metric, value, unit, currency, observed_at, scope_key
    from metric_values
    where value is not null and reason is null
)

select * from final
