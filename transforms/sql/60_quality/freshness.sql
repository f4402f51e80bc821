-- materialize: check
-- severity: critical
-- Each provider loads nightly: its last successful load is at most freshness_hours old (default 26: a day and
-- a grace period); a successful load is one whose outcome is ok or partial. A provider whose every run failed
-- (or was interrupted) is stale too. 'checked_at' is the loader's now (transforms/checks.py).
with last_ok as (
    select provider, max(finished_at) filter (where outcome in ('ok', 'partial')) as finished_at
    from analytics.load_runs
    group by all
)
select provider,
       'last successful load ' || coalesce(cast(finished_at as varchar), 'never') || ', more than '
       || cast(getvariable('freshness_hours') as varchar) || ' hours ago' as detail
from last_ok
where finished_at is null
   or finished_at < getvariable('checked_at') - to_hours(cast(getvariable('freshness_hours') as bigint))
