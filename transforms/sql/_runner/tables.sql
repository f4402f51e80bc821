-- The schemas and the tables the transforms own, created before every transform (transforms/runner.py). Not a
-- model: folders starting with '_' hold the runner's own statements. Columns added later are added to existing
-- warehouses at the end of this file.
create schema if not exists staging;
create schema if not exists analytics;

-- name -> value: last_load_id:<provider> (each provider's watermark), layout_version (transforms/runner.py LAYOUT_VERSION)
create table if not exists staging.transform_state (name varchar primary key, value varchar);

-- the fact rows of the newest fetch of every scope, behind analytics.fact_campaign_metrics
create table if not exists staging.fact_rows (
    provider varchar, account_id varchar, campaign_id varchar, breakdown_type varchar, breakdown_value varchar,
    period_start timestamp, period_end timestamp, metric varchar, value double, unit varchar, currency varchar,
    observed_at timestamp, scope_key varchar, load_id varchar
);

-- the fact rows of the last fetch of every scope and UTC day, behind analytics.fact_campaign_metrics_history
create table if not exists staging.fact_history_rows (
    provider varchar, account_id varchar, campaign_id varchar, breakdown_type varchar, breakdown_value varchar,
    period_start timestamp, period_end timestamp, metric varchar, value double, unit varchar, currency varchar,
    observed_at timestamp, scope_key varchar, load_id varchar, observed_date date
);

create table if not exists analytics.dim_campaign (
    provider varchar, account_id varchar, campaign_id varchar, campaign_name varchar, channel varchar,
    status varchar, started_at timestamp, finished_at timestamp, scheduled_at timestamp, details json,
    first_seen_at timestamp, last_seen_at timestamp
);

create table if not exists analytics.extraction_errors (
    provider varchar, account_id varchar, campaign_id varchar, endpoint varchar, http_status integer,
    reason varchar, run_id varchar, observed_at timestamp, window_start timestamp, window_end timestamp,
    load_id varchar, error_code varchar
);

create table if not exists analytics.quarantined_values (
    provider varchar, account_id varchar, campaign_id varchar, endpoint varchar, field varchar,
    raw_value varchar, reason varchar, observed_at timestamp, scope_key varchar
);

-- columns added since the first release (appended, so new and upgraded warehouses agree on the order)
alter table analytics.extraction_errors add column if not exists error_code varchar;
