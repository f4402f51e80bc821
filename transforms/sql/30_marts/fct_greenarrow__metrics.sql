-- materialize: fact
-- grain: one row per (list, campaign, breakdown, metric) from the newest details pull and the newest link_stats
-- pull of each campaign. The published values of int_greenarrow__metric_values.sql: every field of stat_summary
-- (breakdown total) and of each content_stats slice (breakdown content) that reads as a number, counts "38,668" /
-- "3472" included; bounces_unique_by_code as rows of breakdown bounce_code (content_bounce_code for a slice);
-- clicks_total, clicks_unique, clicks_unique_by_link of every link (breakdown link) and any numeric field added
-- later. Values with a reason (null, not finite, out of range, negative count, unreadable) and missing blocks are
-- in quarantine_greenarrow__values.sql instead. Lifetime totals: no period.
with metric_values as (
    select *
    from int_greenarrow__metric_values
),

final as (
    select provider, account_id, campaign_id, breakdown_type, breakdown_value, period_start, period_end,
        metric, value, unit, currency, observed_at, scope_key
    from metric_values
    where value is not null and reason is null
)

select * from final
