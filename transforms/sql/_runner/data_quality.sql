-- The table of the data quality results, created before the checks run (transforms/checks.py): one row per
-- (check_name, provider) of the latest run_checks, which replaces its rows.
create table if not exists analytics.data_quality (
    check_name varchar, provider varchar, severity varchar, status varchar, failing_rows bigint,
    detail varchar, run_id varchar, checked_at timestamp
);
-- what the check verifies (its SQL file's first comment line); added after the first release, so at the end
alter table analytics.data_quality add column if not exists description varchar;
