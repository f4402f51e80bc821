-- materialize: quarantine
-- grain: one row per leaf under data.metrics of the newest metrics pull of a campaign that has a reason in
-- int_parrot__metric_values.sql (null, not finite, out of range, negative, not a count), and one row when
-- data.metrics is missing or not an object: kept out of the fact, listed here with the raw JSON text.
with metric_values as (
    select *
    from int_parrot__metric_values
    where reason is not null
),

final as (
    select provider, account_id, campaign_id, endpoint, field, raw_value, reason, observed_at, scope_key
    from metric_values
)

select * from final
