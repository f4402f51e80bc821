-- materialize: macro
-- grain: none (macros). The staging rule every 10_staging/stg_<provider>__<table>.sql applies to its raw table, so
-- each staging model is 1:1 with its raw table and the renaming is written once: observed_at = fetched_at,
-- period_start / period_end = window_start / window_end (UTC timestamps). t names the runner's src_<raw table>
-- relation, whose flags say which rows this pass reads: is_current, the row belongs to a fetch the pass rebuilds
-- from (the newest fetch of a dirty scope; in the history pass the last fetch of a scope and day); is_new, it was
-- loaded since the last transform.

create or replace macro etl__staged(t) as table
    select
        account_id,
        campaign_id,
        scope_key,
        fetch_id,
        run_id,
        endpoint,
        cast(fetched_at as timestamp) as observed_at,
        cast(window_start as timestamp) as period_start,
        cast(window_end as timestamp) as period_end,
        request_params,
        payload,
        is_current,
        is_new
    from query_table(t);
