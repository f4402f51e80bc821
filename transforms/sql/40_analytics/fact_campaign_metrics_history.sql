-- materialize: view
-- grain: one row per (provider, account_id, campaign_id, breakdown_type, breakdown_value, period_start, metric,
-- observed_date): the last value seen on that UTC day, so opens and clicks can be charted as they accumulate.
create or replace view analytics.fact_campaign_metrics_history as
select
    h.provider,
    h.account_id,
    h.campaign_id,
    h.breakdown_type,
    h.breakdown_value,
    h.period_start,
    h.period_end,
    h.metric,
    h.observed_date,
    h.value,
    h.unit,
    h.currency,
    m.conformed_metric,
    h.observed_at
from staging.fact_history_rows as h
left join staging.conformed_metrics as m
    on m.provider = h.provider and m.metric = h.metric
