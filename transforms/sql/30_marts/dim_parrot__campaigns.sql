-- materialize: dim
-- grain: one observation per listing entry and per metrics poll result loaded since the last transform.
-- channel is always 'sms'; status = the post campaign status (draft, scheduled, published; 'not_found' after a
-- 404 on its metrics); started_at = published_at; finished_at and scheduled_at are not provided by the API.
-- details describe the metric values the fact holds, from the newest poll that loaded values:
-- metrics_status (ready / updating), metrics_stale (true when the run gave up waiting on `updating` and loaded
-- the previous values), metrics_updated_at (the provider's refresh time of those values), metrics_polls and
-- metrics_waited_seconds; plus published_at, inserted_at and updated_at from the listing. A listing entry of a
-- published campaign carries no details, so it never hides the metrics freshness of an earlier pull.
with listed as (
    select account_id, campaign_id, run_id, observed_at, payload
    from stg_parrot__post_campaigns
    where is_new
),

polls as (
    select account_id, campaign_id, run_id, observed_at, payload
    from stg_parrot__polls
    where is_new
),

from_listing as (
    select account_id, campaign_id,
        payload ->> '$.name' as campaign_name,
        payload ->> '$.status' as status,
        cast(try_cast(payload ->> '$.published_at' as timestamptz) as timestamp) as started_at,
        case when coalesce(payload ->> '$.status', '') <> 'published'
             then json_object('published_at', payload ->> '$.published_at',
                              'inserted_at', payload ->> '$.inserted_at',
                              'updated_at', payload ->> '$.updated_at') end as details,
        observed_at
    from listed
),

from_polls as (
    select p.account_id, p.campaign_id,
        l.payload ->> '$.name' as campaign_name,
        case when p.payload ->> '$.outcome' = 'not_found' then 'not_found'
             else l.payload ->> '$.status' end as status,
        cast(try_cast(l.payload ->> '$.published_at' as timestamptz) as timestamp) as started_at,
        case when p.payload ->> '$.outcome' in ('ready', 'stale') then json_object(
            'metrics_status', p.payload ->> '$.status',
            'metrics_stale', coalesce(try_cast(p.payload ->> '$.stale' as boolean), false),
            'metrics_updated_at', p.payload ->> '$.metrics_updated_at',
            'metrics_polls', try_cast(p.payload ->> '$.polls' as integer),
            'metrics_waited_seconds', try_cast(p.payload ->> '$.waited_seconds' as double),
            'published_at', l.payload ->> '$.published_at',
            'inserted_at', l.payload ->> '$.inserted_at',
            'updated_at', l.payload ->> '$.updated_at') end as details,
        p.observed_at
    from polls as p
    left join listed as l on l.run_id = p.run_id and l.campaign_id = p.campaign_id
        and l.account_id = p.account_id
    where p.payload ->> '$.outcome' in ('ready', 'stale', 'not_found')
),

final as (
    select 'parrot' as provider, account_id, campaign_id, campaign_name, 'sms' as channel, status, started_at,
        cast(null as timestamp) as finished_at, cast(null as timestamp) as scheduled_at, details, observed_at
    from (select * from from_listing union all select * from from_polls)
)

select * from final
