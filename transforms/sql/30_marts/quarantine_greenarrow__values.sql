-- materialize: quarantine
-- grain: one row per GreenArrow value (or missing metrics block) of the newest details / link_stats pull of a
-- campaign that has a reason in int_greenarrow__metric_values.sql: kept out of the fact, listed here with the
-- raw JSON text. Unknown fields that are not numbers stay in raw without a row.
with metric_values as (
    select *
    from int_greenarrow__metric_values
    where reason is not null
),

final as (
    select provider, account_id, campaign_id, endpoint, field, raw_value, reason, observed_at, scope_key
    from metric_values
)

select * from final
