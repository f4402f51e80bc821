-- materialize: staging
-- inputs: parrot_post_campaigns
-- grain: one row per post campaign entry of the listing.
-- raw.parrot_post_campaigns renamed and cast, 1:1: observed_at = fetched_at, period_start / period_end =
-- window_start / window_end (UTC timestamps). is_current: the row belongs to a fetch the pass rebuilds from (the
-- newest fetch of a dirty scope; in the history pass the last fetch of a scope and day); is_new: loaded since the
-- last transform.
with source as (
    select *
    from src_parrot_post_campaigns
),

renamed as (
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
    from source
)

select * from renamed
