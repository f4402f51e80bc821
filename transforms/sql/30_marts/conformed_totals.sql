-- materialize: view
-- grain: one row per campaign-level fact row (breakdown 'total') whose metric has a conformed name: the value with
-- its conformed_metric and its dictionary aggregation ('sum' when the dictionary says none), the one reading of
-- the metric dictionary that analytics.campaign_performance, weekly_provider_metrics and daily_campaign_metrics
-- share.
create or replace view staging.conformed_totals as
select f.provider, f.account_id, f.campaign_id, f.period_start, f.period_end, f.value, f.currency,
    m.conformed_metric, coalesce(m.aggregation, 'sum') as aggregation
from staging.fact_rows as f
join staging.conformed_metrics as m on m.provider = f.provider and m.metric = f.metric
where f.breakdown_type = 'total' and m.conformed_metric is not null
