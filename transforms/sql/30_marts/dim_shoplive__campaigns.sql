-- materialize: dim
-- grain: one observation per campaign record loaded since the last transform. Search results (campaignMeta)
-- give title, status and the scheduled / actual times; stats records repeat title and times under other names
-- (scheduledAt, startedAt, endedAt) and name campaigns the search did not reach (older shows with replay
-- viewers). userCount / likeCount are live counters, kept in details only.
with searched as (
    select account_id, campaign_id, observed_at,
        coalesce(payload -> '$.campaignMeta', payload) as meta
    from stg_shoplive__campaigns
    where is_new
),

observed as (
    select account_id, campaign_id, observed_at,
        meta ->> '$.title' as campaign_name,
        meta ->> '$.campaignStatus' as status,
        cast(try_cast(meta ->> '$.campaignStartedAt' as timestamptz) as timestamp) as started_at,
        cast(try_cast(meta ->> '$.campaignEndedAt' as timestamptz) as timestamp) as finished_at,
        cast(try_cast(meta ->> '$.scheduledStartAt' as timestamptz) as timestamp) as scheduled_at,
        json_object('campaign_numeric_id', meta ->> '$.campaignId', 'description', meta ->> '$.description',
                    'rerun', meta -> '$.rerun', 'scheduled_end_at', meta ->> '$.scheduledEndAt',
                    'created_at', meta ->> '$.createdAt', 'user_count', meta -> '$.userCount',
                    'like_count', meta -> '$.likeCount') as details
    from searched
    union all
    select account_id, campaign_id, observed_at,
        payload ->> '$.title' as campaign_name,
        cast(null as varchar) as status,
        cast(try_cast(payload ->> '$.startedAt' as timestamptz) as timestamp) as started_at,
        cast(try_cast(payload ->> '$.endedAt' as timestamptz) as timestamp) as finished_at,
        cast(try_cast(payload ->> '$.scheduledAt' as timestamptz) as timestamp) as scheduled_at,
        cast(null as json) as details
    from stg_shoplive__campaign_stats
    where is_new
),

final as (
    select 'shoplive' as provider, account_id, campaign_id, campaign_name, 'live_commerce' as channel, status,
        started_at, finished_at, scheduled_at, details, observed_at
    from observed
)

select * from final
