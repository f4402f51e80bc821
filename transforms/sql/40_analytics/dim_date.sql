-- materialize: view
-- grain: one row per UTC calendar day from the Monday of the first week the warehouse has a figure in (a campaign's
-- start, a window's start, an observation) to the last day (a window's end, an observation, a run): the date
-- dimension BI tools join on a DATE column (metric_date, observed_date, week_start, cast(started_at as date)).
-- Weeks start on Monday (ISO), as the windows do. Read from the data, not the clock, so every target holds the
-- same rows; empty while the warehouse is.
create or replace view analytics.dim_date as
with bounds as (
    select
        cast(date_trunc('week', least((select min(cast(started_at as date)) from analytics.dim_campaign),
                                      (select min(cast(period_start as date)) from staging.fact_rows),
                                      (select min(observed_date) from staging.fact_history_rows))) as date)
            as first_day,
        greatest((select max(cast(period_end as date)) from staging.fact_rows),
                 (select max(observed_date) from staging.fact_history_rows),
                 (select max(cast(finished_at as date)) from analytics.load_runs)) as last_day
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
