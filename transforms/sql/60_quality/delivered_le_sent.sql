-- materialize: check
-- severity: critical
-- applies_to: select provider from staging.conformed_metrics where conformed_metric in ('sent', 'delivered') group by provider having count(distinct conformed_metric) = 2
-- Within one campaign, breakdown and period, conformed delivered never exceeds conformed sent.
with pairs as (
    select f.provider, f.account_id, f.campaign_id, f.breakdown_type, f.breakdown_value, f.period_start,
        max(f.value) filter (where m.conformed_metric = 'sent') as sent,
        max(f.value) filter (where m.conformed_metric = 'delivered') as delivered
    from staging.fact_rows as f
    join staging.conformed_metrics as m on m.provider = f.provider and m.metric = f.metric
    where m.conformed_metric in ('sent', 'delivered')
    group by all
)
select provider, campaign_id || ' ' || breakdown_type || '/' || breakdown_value || ': delivered '
       || cast(delivered as varchar) || ' > sent ' || cast(sent as varchar) as detail
from pairs
where delivered > sent
