-- materialize: view
-- grain: one row per (week_start, provider): the provider's conformed campaign figures of that week (weeks start on
-- Monday, UTC). Date-range providers (Insider, Shoplive) count each window in the week it starts in (a window never
-- spans two weeks: the grid is UTC days or weeks from Monday); lifetime providers (GreenArrow, Parrot, Experiture)
-- count each campaign's lifetime figures in the week it started (or was scheduled, or first seen).
-- Rule: additive counts (dictionary aggregation 'sum') are summed over campaigns and windows. A unique count is a
-- per-campaign figure: it is summed over the week's campaigns (a person reached by two campaigns counts twice),
-- never over windows, so it is NULL for a week in which one campaign has it for more than one window (daily windows
-- of one campaign). Rates are recomputed from the week's summed counts, never averaged.
create or replace view analytics.weekly_provider_metrics as
with facts as (
    select f.provider, f.account_id, f.campaign_id, f.period_start, f.value, f.conformed_metric, f.aggregation,
        cast(date_trunc('week', coalesce(f.period_start, d.started_at, d.scheduled_at, d.first_seen_at)) as date)
            as week_start
    from staging.conformed_totals as f
    left join analytics.dim_campaign as d
        on d.provider = f.provider and d.account_id = f.account_id and d.campaign_id = f.campaign_id
    where f.conformed_metric in ('sent', 'delivered', 'opens_unique', 'opens_total', 'clicks_unique',
                                 'clicks_total', 'conversions', 'revenue')
),

per_campaign as (
    select week_start, provider, account_id, campaign_id, conformed_metric,
        case when any_value(aggregation) = 'sum' then sum(value::decimal(38, 6))::double
             when count(*) = 1 then any_value(value)
        end as value,
        any_value(aggregation) <> 'sum' and count(*) > 1 as not_summable
    from facts
    where week_start is not null
    group by all
),

per_metric as (
    select week_start, provider, conformed_metric,
        case when not bool_or(not_summable) then sum(value::decimal(38, 6))::double end as value
    from per_campaign
    group by all
),

campaigns as (
    select week_start, provider, count(distinct (account_id, campaign_id)) as campaigns
    from per_campaign
    group by all
),

pivoted as (
    select week_start, provider,
        max(value) filter (where conformed_metric = 'sent') as sent,
        max(value) filter (where conformed_metric = 'delivered') as delivered,
        max(value) filter (where conformed_metric = 'opens_unique') as opens_unique,
        max(value) filter (where conformed_metric = 'opens_total') as opens_total,
        max(value) filter (where conformed_metric = 'clicks_unique') as clicks_unique,
        max(value) filter (where conformed_metric = 'clicks_total') as clicks_total,
        max(value) filter (where conformed_metric = 'conversions') as conversions,
        max(value) filter (where conformed_metric = 'revenue') as revenue
    from per_metric
    group by all
)

select
    p.week_start,
    p.provider,
    c.campaigns,
    cast(round(p.sent) as bigint) as sent,
    cast(round(p.delivered) as bigint) as delivered,
    cast(round(p.opens_unique) as bigint) as opens_unique,
    cast(round(p.opens_total) as bigint) as opens_total,
    cast(round(p.clicks_unique) as bigint) as clicks_unique,
    cast(round(p.clicks_total) as bigint) as clicks_total,
    cast(round(p.conversions) as bigint) as conversions,
    p.revenue,
    p.delivered / nullif(p.sent, 0) as delivery_rate,
    p.opens_unique / nullif(p.delivered, 0) as open_rate,
    p.clicks_unique / nullif(p.delivered, 0) as click_rate_unique,
    p.clicks_total / nullif(p.delivered, 0) as click_rate_total,
    p.conversions / nullif(p.delivered, 0) as conversion_rate
from pivoted as p
join campaigns as c using (week_start, provider)
