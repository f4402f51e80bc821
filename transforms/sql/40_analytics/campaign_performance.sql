-- materialize: view
-- grain: one row per campaign (provider, account_id, campaign_id) with the conformed metrics as columns.
-- Rule for date-range providers (Insider, Shoplive): a metric whose dictionary aggregation is 'sum' (an additive
-- count such as clicks or delivered) is summed over the campaign's non-overlapping windows; any other metric
-- (unique counts, rates, peaks, averages) is never summed: it is taken when the campaign has exactly one period
-- (a lifetime figure, or a single window) and is NULL otherwise. Rates are recomputed from the counts.
create or replace view analytics.campaign_performance as
with facts as (
    select f.provider, f.account_id, f.campaign_id, f.period_start, f.period_end, f.value, f.currency,
        m.conformed_metric, coalesce(m.aggregation, 'sum') as aggregation
    from staging.fact_rows as f
    join staging.conformed_metrics as m on m.provider = f.provider and m.metric = f.metric
    where f.breakdown_type = 'total' and m.conformed_metric is not null
),

per_metric as (
    select provider, account_id, campaign_id, conformed_metric,
        case when any_value(aggregation) = 'sum' then sum(value)
             when count(*) = 1 then any_value(value)
        end as value,
        any_value(currency) as currency,
        count(*) as periods,
        min(period_start) as first_period_start,
        max(period_end) as last_period_end
    from facts
    group by provider, account_id, campaign_id, conformed_metric
),

pivoted as (
    select provider, account_id, campaign_id,
        max(value) filter (where conformed_metric = 'sent') as sent,
        max(value) filter (where conformed_metric = 'delivered') as delivered,
        max(value) filter (where conformed_metric = 'opens_unique') as opens_unique,
        max(value) filter (where conformed_metric = 'opens_total') as opens_total,
        max(value) filter (where conformed_metric = 'clicks_unique') as clicks_unique,
        max(value) filter (where conformed_metric = 'clicks_total') as clicks_total,
        max(value) filter (where conformed_metric = 'bounces') as bounces,
        max(value) filter (where conformed_metric = 'unsubscribes') as unsubscribes,
        max(value) filter (where conformed_metric = 'complaints') as complaints,
        max(value) filter (where conformed_metric = 'failed') as failed,
        max(value) filter (where conformed_metric = 'conversions') as conversions,
        max(value) filter (where conformed_metric = 'revenue') as revenue,
        max(currency) filter (where conformed_metric = 'revenue') as revenue_currency,
        max(value) filter (where conformed_metric = 'viewers') as viewers,
        max(periods) as periods,
        min(first_period_start) as first_period_start,
        max(last_period_end) as last_period_end
    from per_metric
    group by provider, account_id, campaign_id
),

campaigns as (
    select provider, account_id, campaign_id from analytics.dim_campaign
    union
    select provider, account_id, campaign_id from pivoted
),

final as (
    select
        c.provider,
        c.account_id,
        c.campaign_id,
        d.campaign_name,
        d.channel,
        d.status,
        d.started_at,
        d.finished_at,
        p.first_period_start,
        p.last_period_end,
        p.periods,
        p.sent,
        p.delivered,
        p.opens_unique,
        p.opens_total,
        p.clicks_unique,
        p.clicks_total,
        p.bounces,
        p.unsubscribes,
        p.complaints,
        p.failed,
        p.conversions,
        p.revenue,
        p.revenue_currency,
        p.viewers,
        p.delivered / nullif(p.sent, 0) as delivery_rate,
        p.opens_unique / nullif(p.delivered, 0) as open_rate,
        coalesce(p.clicks_unique, p.clicks_total) / nullif(p.delivered, 0) as click_rate,
        p.clicks_unique / nullif(p.opens_unique, 0) as click_to_open_rate,
        p.bounces / nullif(p.sent, 0) as bounce_rate,
        p.unsubscribes / nullif(p.delivered, 0) as unsubscribe_rate,
        p.conversions / nullif(p.delivered, 0) as conversion_rate
    from campaigns as c
    left join pivoted as p using (provider, account_id, campaign_id)
    left join analytics.dim_campaign as d using (provider, account_id, campaign_id)
)

select * from final
