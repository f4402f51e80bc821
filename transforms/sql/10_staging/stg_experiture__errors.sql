-- materialize: staging
-- inputs: experiture_errors
-- grain: one row per Experiture entity skipped or failed (404 deleted, 409, refused scope, ...), as loaded.
-- raw.experiture_errors renamed and cast, 1:1; observed_at = when the error was seen, period_start / period_end =
-- the window (NULL for a campaign). is_new: loaded since the last transform (error rows belong to no fetch, so
-- is_current is always false).
with source as (
    select *
    from src_experiture_errors
),

renamed as (
    select
        account_id,
        campaign_id,
        run_id,
        endpoint,
        cast(observed_at as timestamp) as observed_at,
        cast(window_start as timestamp) as period_start,
        cast(window_end as timestamp) as period_end,
        cast(http_status as integer) as http_status,
        error_code,
        reason,
        request_params,
        is_current,
        is_new
    from source
)

select * from renamed
