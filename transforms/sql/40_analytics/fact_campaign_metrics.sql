-- materialize: view
-- grain: one row per (provider, account_id, campaign_id, breakdown_type, breakdown_value, period_start, metric)
-- holding the newest observed value; conformed_metric comes from the seed, so a mapping change needs no reload.
create or replace view analytics.fact_campaign_metrics as
select
    f.provider,
    f.account_id,
    f.campaign_id,
    f.breakdown_type,
    f.breakdown_value,
    f.period_start,
    f.period_end,
    f.metric,
    f.value,
    f.unit,
    f.currency,
    m.conformed_metric,
    f.observed_at
from staging.fact_rows as f
left join staging.conformed_metrics as m
    on m.provider = f.provider and m.metric = f.metric
