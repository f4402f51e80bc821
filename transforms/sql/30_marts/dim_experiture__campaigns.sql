-- materialize: dim
-- grain: one observation per campaign pull (status + summary of the same fetch), per listing entry, and per
-- 404 (deleted) loaded since the last transform.
-- status = /status execution.state (not_scheduled, scheduled, pending_or_overdue, running, completed, failed;
-- 'deleted' after a 404); started_at / finished_at = the last execution's startedAt / completedAt;
-- scheduled_at = schedule.sendAt. Everything else goes to details: campaign_type, authoring_status, created_at,
-- updated_at, schedule (timezone, active, kind), audience (estimated reach), last_execution (id, status and the
-- counts of that run alone; the fact holds the lifetime counts).
with statuses as (
    select fetch_id, account_id, campaign_id, observed_at, payload
    from stg_experiture__statuses
    where is_new
),

summaries as (
    select fetch_id, payload
    from stg_experiture__summaries
    where is_new
),

pulled as (
    select st.account_id, st.campaign_id,
        coalesce(su.payload ->> '$.name', st.payload ->> '$.name') as campaign_name,
        su.payload ->> '$.channel' as channel,
        st.payload ->> '$.execution.state' as status,
        cast(try_cast(st.payload ->> '$.execution.lastExecution.startedAt' as timestamptz) as timestamp) as started_at,
        cast(try_cast(st.payload ->> '$.execution.lastExecution.completedAt' as timestamptz) as timestamp)
            as finished_at,
        cast(try_cast(st.payload ->> '$.schedule.sendAt' as timestamptz) as timestamp) as scheduled_at,
        json_object(
            'campaign_type', su.payload ->> '$.campaignType',
            'authoring_status', coalesce(st.payload ->> '$.authoringStatus', su.payload ->> '$.authoringStatus'),
            'created_at', su.payload ->> '$.createdAt',
            'updated_at', su.payload ->> '$.updatedAt',
            'schedule', st.payload -> '$.schedule',
            'audience', su.payload -> '$.audience',
            'last_execution', st.payload -> '$.execution.lastExecution'
        ) as details,
        st.observed_at
    from statuses as st
    left join summaries as su on su.fetch_id = st.fetch_id
),

listed as (
    -- the listing names every campaign, including journeys public v1 cannot read (their only dim source)
    select account_id, campaign_id,
        payload ->> '$.name' as campaign_name,
        payload ->> '$.channel' as channel,
        cast(null as varchar) as status,
        cast(null as timestamp) as started_at, cast(null as timestamp) as finished_at,
        cast(null as timestamp) as scheduled_at,
        case when coalesce(payload ->> '$.campaignType', 'broadcast') <> 'broadcast'
             then json_object('campaign_type', payload ->> '$.campaignType',
                              'authoring_status', payload ->> '$.authoringStatus',
                              'created_at', payload ->> '$.createdAt',
                              'updated_at', payload ->> '$.updatedAt') end as details,
        observed_at
    from stg_experiture__campaigns
    where is_new
),

deleted as (
    select account_id, campaign_id,
        cast(null as varchar) as campaign_name, cast(null as varchar) as channel, 'deleted' as status,
        cast(null as timestamp) as started_at, cast(null as timestamp) as finished_at,
        cast(null as timestamp) as scheduled_at, cast(null as json) as details,
        observed_at
    from stg_experiture__errors
    where is_new and http_status = 404 and campaign_id is not null
),

final as (
    select 'experiture' as provider, account_id, campaign_id, campaign_name, channel, status, started_at,
        finished_at, scheduled_at, details, observed_at
    from (select * from pulled union all select * from listed union all select * from deleted)
)

select * from final
