-- materialize: check
-- severity: critical
-- applies_to: select provider from staging.conformed_metrics where conformed_metric in ('opens_unique', 'opens_total', 'clicks_unique', 'clicks_total') group by provider having count(distinct conformed_metric) filter (where conformed_metric like 'opens%') = 2 or count(distinct conformed_metric) filter (where conformed_metric like 'clicks%') = 2
-- Unique opens and clicks never exceed their totals (same campaign, breakdown and period).
with pairs as (
    select f.provider, f.campaign_id, f.breakdown_type, f.breakdown_value, f.period_start,
        max(f.value) filter (where m.conformed_metric = 'opens_unique') as opens_unique,
        max(f.value) filter (where m.conformed_metric = 'opens_total') as opens_total,
        max(f.value) filter (where m.conformed_metric = 'clicks_unique') as clicks_unique,
        max(f.value) filter (where m.conformed_metric = 'clicks_total') as clicks_total
    from staging.fact_rows as f
    join staging.conformed_metrics as m on m.provider = f.provider and m.metric = f.metric
    group by all
)
select provider, campaign_id || ' ' || breakdown_type || '/' || breakdown_value || ': unique above total' as detail
from pairs
where opens_unique > opens_total or clicks_unique > clicks_total
