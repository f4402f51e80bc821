-- The table of the data quality results, created before the checks run (transforms/checks.py): one row per
-- (check_name, provider) of the latest run_checks, which replaces its rows.
create table if not exists analytics.data_quality (
    check_name varchar, provider varchar, severity varchar, status varchar, failing_rows bigint,
    detail varchar, run_id varchar, checked_at timestamp
);
