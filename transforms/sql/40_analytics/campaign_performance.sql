-- materialize: view
-- grain: one row per campaign (provider, account_id, campaign_id) with the conformed metrics as columns.
-- Rule for date-range providers (Insider, Shoplive): a metric whose dictionary aggregation is 'sum' (an additive
-- count such as clicks or delivered) is summed over the campaign's non-overlapping windows; any other metric
-- (unique counts, rates, peaks, averages) is never summed: it is taken when the campaign has exactly one period
-- (a lifetime figure, or a single window) and is NULL otherwise. Rates are recomputed from the counts.
-- Sums are taken as DECIMAL(38, 6), so a total (revenue) does not depend on the order DuckDB adds its windows in.
-- Counts are BIGINT (the dictionary's unit 'count'), revenue DOUBLE; status is the conformed status of the seed
-- transforms/seeds/campaign_status (NULL for a provider status it does not list), provider_status the provider's.
create or replace view analytics.campaign_performance as
with per_metric as (
    select provider, account_id, campaign_id, conformed_metric,
        case when any_value(aggregation) = 'sum' then sum(value::decimal(38, 6))::double
             when count(*) = 1 then any_value(value)
        end as value,
        any_value(currency) as currency,
        count(*) as periods,
        min(period_start) as first_period_start,
        max(period_end) as last_period_end
    from staging.conformed_totals
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
        s.status,
        d.status as provider_status,
        d.started_at,
        d.finished_at,
        p.first_period_start,
        p.last_period_end,
        p.periods,
        cast(round(p.sent) as bigint) as sent,
        cast(round(p.delivered) as bigint) as delivered,
        cast(round(p.opens_unique) as bigint) as opens_unique,
        cast(round(p.opens_total) as bigint) as opens_total,
        cast(round(p.clicks_unique) as bigint) as clicks_unique,
        cast(round(p.clicks_total) as bigint) as clicks_total,
        cast(round(p.bounces) as bigint) as bounces,
        cast(round(p.unsubscribes) as bigint) as unsubscribes,
        cast(round(p.complaints) as bigint) as complaints,
        cast(round(p.failed) as bigint) as failed,
        cast(round(p.conversions) as bigint) as conversions,
        p.revenue,
        p.revenue_currency,
        cast(round(p.viewers) as bigint) as viewers,
        p.delivered / nullif(p.sent, 0) as delivery_rate,
        p.opens_unique / nullif(p.delivered, 0) as open_rate,
        p.clicks_unique / nullif(p.delivered, 0) as click_rate_unique,
        p.clicks_total / nullif(p.delivered, 0) as click_rate_total,
        p.clicks_unique / nullif(p.opens_unique, 0) as click_to_open_rate,
        p.bounces / nullif(p.sent, 0) as bounce_rate,
        p.unsubscribes / nullif(p.delivered, 0) as unsubscribe_rate,
        p.conversions / nullif(p.delivered, 0) as conversion_rate
    from campaigns as c
    left join pivoted as p using (provider, account_id, campaign_id)
    left join analytics.dim_campaign as d using (provider, account_id, campaign_id)
    left join staging.campaign_status as s on s.provider = c.provider and s.provider_status = d.status
)

select * from final
