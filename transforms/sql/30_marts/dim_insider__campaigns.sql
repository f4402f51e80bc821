-- materialize: dim
-- grain: one observation per overall-metrics record loaded since the last transform: name, status, type, tags
-- and dates of the campaign (startDate/endDate/sendDate carry no zone; read as UTC, see docs/providers/insider.md).
with observed as (
    select account_id, campaign_id, observed_at, payload
    from stg_insider__overall_metrics
    where is_new
),

final as (
    select 'insider' as provider, account_id, campaign_id,
        payload ->> '$.campName' as campaign_name,
        'web_push' as channel,
        payload ->> '$.status' as status,
        try_cast(payload ->> '$.startDate' as timestamp) as started_at,
        try_cast(payload ->> '$.endDate' as timestamp) as finished_at,
        try_cast(payload ->> '$.sendDate' as timestamp) as scheduled_at,
        json_object('type', payload ->> '$.type', 'tags', payload -> '$.tags', 'record_id', payload -> '$.id',
                    'message_link', payload ->> '$.messageLink') as details,
        observed_at
    from observed
)

select * from final
