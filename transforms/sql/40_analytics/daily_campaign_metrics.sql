-- materialize: view
-- grain: one row per (provider, account_id, campaign_id, period_start) of the date-range providers (Insider,
-- Shoplive): the conformed figures of one window, dated by its first day (metric_date). With window_days = 1 the
-- rows are days; with the default weekly windows they are weeks (period_days says which): a window's figures are
-- the provider's for that window and are never spread over its days. Unique counts (viewers, clicks_unique) are
-- the window's own distinct counts, valid for that row only.
create or replace view analytics.daily_campaign_metrics as
with pivoted as (
    select provider, account_id, campaign_id, period_start,
        max(period_end) as period_end,
        max(value) filter (where conformed_metric = 'sent') as sent,
        max(value) filter (where conformed_metric = 'delivered') as delivered,
        max(value) filter (where conformed_metric = 'clicks_unique') as clicks_unique,
        max(value) filter (where conformed_metric = 'clicks_total') as clicks_total,
        max(value) filter (where conformed_metric = 'conversions') as conversions,
        max(value) filter (where conformed_metric = 'revenue') as revenue,
        max(currency) filter (where conformed_metric = 'revenue') as revenue_currency,
        max(value) filter (where conformed_metric = 'viewers') as viewers
    from staging.conformed_totals
    where period_start is not null
    group by all
)

select
    p.provider,
    p.account_id,
    p.campaign_id,
    d.campaign_name,
    cast(p.period_start as date) as metric_date,
    p.period_start,
    p.period_end,
    cast(ceil(date_diff('second', p.period_start, p.period_end) / 86400.0) as integer) as period_days,
    cast(round(p.sent) as bigint) as sent,
    cast(round(p.delivered) as bigint) as delivered,
    cast(round(p.clicks_unique) as bigint) as clicks_unique,
    cast(round(p.clicks_total) as bigint) as clicks_total,
    cast(round(p.conversions) as bigint) as conversions,
    p.revenue,
    p.revenue_currency,
    cast(round(p.viewers) as bigint) as viewers,
    p.delivered / nullif(p.sent, 0) as delivery_rate,
    p.clicks_total / nullif(p.delivered, 0) as click_rate_total,
    p.conversions / nullif(p.delivered, 0) as conversion_rate
from pivoted as p
left join analytics.dim_campaign as d
    on d.provider = p.provider and d.account_id = p.account_id and d.campaign_id = p.campaign_id
