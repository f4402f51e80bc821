-- materialize: view
-- grain: one row per (provider, account_id, campaign_id, observed_date) for every UTC day a load observed the
-- campaign: its conformed figures as known at the end of that day, so opens and clicks can be charted as they
-- accumulate after the send. A figure not pulled that day (a settled window) keeps its last observed value; a
-- date-range campaign sums its windows' additive counts as of that day, and has a unique count only while it has
-- one window (the rule of campaign_performance). Campaigns without a send time are left out.
create or replace view analytics.campaign_accumulation as
with history as (
    select h.provider, h.account_id, h.campaign_id, h.period_start, h.observed_date, h.value,
        m.conformed_metric, coalesce(m.aggregation, 'sum') as aggregation
    from staging.fact_history_rows as h
    join staging.conformed_metrics as m on m.provider = h.provider and m.metric = h.metric
    where h.breakdown_type = 'total'
      and m.conformed_metric in ('delivered', 'opens_unique', 'opens_total', 'clicks_unique', 'clicks_total',
                                 'conversions')
),

days as (
    select distinct provider, account_id, campaign_id, observed_date from history
),

as_of as (
    select d.provider, d.account_id, d.campaign_id, d.observed_date, h.period_start, h.conformed_metric,
        any_value(h.aggregation) as aggregation,
        arg_max(h.value, h.observed_date) as value
    from days as d
    join history as h
        on h.provider = d.provider and h.account_id = d.account_id and h.campaign_id = d.campaign_id
       and h.observed_date <= d.observed_date
    group by all
),

per_metric as (
    select provider, account_id, campaign_id, observed_date, conformed_metric,
        case when any_value(aggregation) = 'sum' then sum(value::decimal(38, 6))::double
             when count(*) = 1 then any_value(value)
        end as value
    from as_of
    group by all
),

pivoted as (
    select provider, account_id, campaign_id, observed_date,
        max(value) filter (where conformed_metric = 'delivered') as delivered,
        max(value) filter (where conformed_metric = 'opens_unique') as opens_unique,
        max(value) filter (where conformed_metric = 'opens_total') as opens_total,
        max(value) filter (where conformed_metric = 'clicks_unique') as clicks_unique,
        max(value) filter (where conformed_metric = 'clicks_total') as clicks_total,
        max(value) filter (where conformed_metric = 'conversions') as conversions
    from per_metric
    group by all
)

select
    p.provider,
    p.account_id,
    p.campaign_id,
    d.campaign_name,
    d.started_at,
    p.observed_date,
    cast(date_diff('day', cast(d.started_at as date), p.observed_date) as integer) as days_after_send,
    cast(round(p.opens_unique) as bigint) as opens_unique,
    cast(round(p.opens_total) as bigint) as opens_total,
    cast(round(p.clicks_unique) as bigint) as clicks_unique,
    cast(round(p.clicks_total) as bigint) as clicks_total,
    cast(round(p.delivered) as bigint) as delivered,
    cast(round(p.conversions) as bigint) as conversions
from pivoted as p
join analytics.dim_campaign as d
    on d.provider = p.provider and d.account_id = p.account_id and d.campaign_id = p.campaign_id
where d.started_at is not null and p.observed_date >= cast(d.started_at as date)
