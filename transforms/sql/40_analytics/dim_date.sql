-- materialize: view
-- grain: one row per UTC calendar day from the first day the warehouse has a figure for (a campaign's start, a
-- window's start, an observation) to today: the date dimension BI tools join on a DATE column (metric_date,
-- observed_date, week_start, or cast(started_at as date)). Weeks start on Monday (ISO), as the windows do.
create or replace view analytics.dim_date as
with bounds as (
    select
        least(coalesce((select min(cast(started_at as date)) from analytics.dim_campaign), current_date),
              coalesce((select min(cast(period_start as date)) from staging.fact_rows), current_date),
              coalesce((select min(observed_date) from staging.fact_history_rows), current_date)) as first_day,
        greatest(current_date,
                 coalesce((select max(cast(period_end as date)) from staging.fact_rows), current_date)) as last_day
)

select
    cast(day as date) as date_day,
    cast(date_trunc('week', day) as date) as week_start,
    cast(date_trunc('month', day) as date) as month_start,
    cast(year(day) as integer) as year,
    cast(quarter(day) as integer) as quarter,
    cast(month(day) as integer) as month,
    monthname(day) as month_name,
    cast(day(day) as integer) as day_of_month,
    cast(isodow(day) as integer) as day_of_week,
    dayname(day) as day_name,
    cast(isoyear(day) as integer) as iso_year,
    cast(week(day) as integer) as iso_week,
    isodow(day) >= 6 as is_weekend
from bounds, generate_series(cast(bounds.first_day as timestamp), cast(bounds.last_day as timestamp),
                             interval 1 day) as days(day)
