-- materialize: fact
-- inputs: greenarrow_link_stats
-- grain: one row per (list, campaign, link, metric) from the newest complete link_stats pull of each campaign.
-- The published values of int_greenarrow__metric_values.sql for the link_stats endpoint: clicks_total,
-- clicks_unique, clicks_unique_by_link and any numeric field added later; quarantined values are in
-- stg_greenarrow__quarantine.sql.
with metric_values as (
    select *
    from int_greenarrow__metric_values
    where endpoint = 'link_stats'
),

final as (
    select provider, account_id, campaign_id, breakdown_type, breakdown_value, period_start, period_end,
        metric, value, unit, currency, observed_at, scope_key
    from metric_values
    where value is not null and reason is null
)

select * from final
