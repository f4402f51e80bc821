-- materialize: dim
-- grain: one observation per campaign record loaded since the last transform (details and list entries).
with observed as (
    select account_id, campaign_id, observed_at, payload
    from stg_greenarrow__campaigns
    where is_new
    union all
    select account_id, campaign_id, observed_at, payload
    from stg_greenarrow__list_campaigns
    where is_new
),

final as (
    select 'greenarrow' as provider, account_id, campaign_id,
        payload ->> '$.name' as campaign_name,
        'email' as channel,
        coalesce(payload ->> '$.dispatch.state', 'idle') as status,
        cast(try_cast(payload ->> '$.dispatch.started_at' as timestamptz) as timestamp) as started_at,
        cast(try_cast(payload ->> '$.dispatch.finished_at' as timestamptz) as timestamp) as finished_at,
        cast(try_cast(payload ->> '$.dispatch.begins_at' as timestamptz) as timestamp) as scheduled_at,
        json_object('mailing_list_name', payload ->> '$.mailing_list_name',
                    'archived', payload -> '$.archived',
                    'autowinner_enabled', payload -> '$.dispatch.autowinner_enabled',
                    'winning_content_id', payload -> '$.automatic_winner_selection.winning_content.id') as details,
        observed_at
    from observed
)

select * from final
