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

-- each payload parsed once per list of paths: a JSON function keeps its parse memory per call site, so ten
-- extractions of a 4 KB details record would hold ten times a whole vector of parsed documents
parsed as (
    select account_id, campaign_id, observed_at,
        json_extract_string(payload, ['$.name', '$.dispatch.state', '$.dispatch.started_at',
                                      '$.dispatch.finished_at', '$.dispatch.begins_at',
                                      '$.mailing_list_name']) as text,
        json_extract(payload, ['$.archived', '$.dispatch.autowinner_enabled',
                               '$.automatic_winner_selection.winning_content.id']) as json
    from observed
),

final as (
    select 'greenarrow' as provider, account_id, campaign_id,
        text[1] as campaign_name,
        'email' as channel,
        coalesce(text[2], 'idle') as status,
        cast(try_cast(text[3] as timestamptz) as timestamp) as started_at,
        cast(try_cast(text[4] as timestamptz) as timestamp) as finished_at,
        cast(try_cast(text[5] as timestamptz) as timestamp) as scheduled_at,
        json_object('mailing_list_name', text[6], 'archived', json[1], 'autowinner_enabled', json[2],
                    'winning_content_id', json[3]) as details,
        observed_at
    from parsed
)

select * from final
