-- materialize: check
-- severity: critical
-- Counts are never negative, in the fact or as the provider sent them.
-- grain: one row per negative count: published in the fact (a safety net: the intermediate models quarantine
-- them, 00_macros/values.sql) or sent by the provider and quarantined with reason 'negative <unit>', so a
-- provider sending negative counts is reported here even though none reaches the fact.
with published as (
    select provider, campaign_id || ' ' || breakdown_type || '/' || breakdown_value || ' ' || metric || ' = '
           || cast(value as varchar) as detail
    from staging.fact_rows
    where unit in ('count', 'seconds', 'days') and value < 0
),

quarantined as (
    select provider, campaign_id || ' ' || field || ' = ' || raw_value || ' (quarantined)' as detail
    from analytics.quarantined_values
    where reason like 'negative %'
),

final as (
    select * from published
    union all
    select * from quarantined
)

select * from final
