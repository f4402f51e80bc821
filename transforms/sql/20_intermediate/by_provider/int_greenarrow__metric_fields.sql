-- materialize: intermediate
-- grain: one row per candidate metric field of the newest details pull and the newest link_stats pull of each
-- campaign, with its kind (00_macros/greenarrow_kinds.sql): every field of stat_summary (breakdown total) and of
-- each content_stats slice (breakdown content), counts "38,668" / "3472" included; bounces_unique_by_code as rows
-- of breakdown bounce_code (content_bounce_code for a slice); clicks_total, clicks_unique,
-- clicks_unique_by_link of every link (breakdown link) and any numeric field added later; plus one row per
-- metrics block that should be there and is not. GreenArrow figures are lifetime totals: no period.
with details as (
    -- the details record (about 4 KB) parsed once: every JSON function keeps a whole vector of parsed documents
    -- per call site, so the blocks are cut out in one call and read from there
    select account_id, campaign_id, scope_key, observed_at,
        json_extract(payload, ['$.dispatch.started_at', '$.stat_summary', '$.content_stats']) as parts
    from stg_greenarrow__campaigns
    where is_current
),

campaigns as (
    select account_id, campaign_id, scope_key, observed_at,
        parts[2] as stat_summary,
        parts[3] as content_stats,
        -- DOC (docs/providers/greenarrow.md, Traps): a never-sent campaign has no stat_summary and no metric
        -- rows, so a missing metrics block is a fault only once the campaign has started sending
        coalesce(json_type(parts[1]), 'NULL') <> 'NULL' as has_started
    from details
),

links as (
    select account_id, campaign_id, scope_key, observed_at, payload
    from stg_greenarrow__link_stats
    where is_current
),

summaries as (
    select account_id, campaign_id, scope_key, observed_at,
        'total' as breakdown_type,
        'total' as breakdown_value,
        'stat_summary' as block,
        stat_summary as summary,
        stat_summary is not null as block_sent,
        has_started
    from campaigns
    union all
    select account_id, campaign_id, scope_key, observed_at,
        'content' as breakdown_type,
        content_id as breakdown_value,
        'content_stats[' || coalesce(content_id, slice_key) || '].stat_summary' as block,
        slice_summary as summary,
        slice_summary is not null as block_sent,
        has_started
    from (
        select account_id, campaign_id, scope_key, observed_at, has_started, s.key as slice_key,
            json_extract_string(s.value, '$.content.id') as content_id,
            json_extract(s.value, '$.stat_summary') as slice_summary
        from (select *, unnest(etl__elements(content_stats)) as s from campaigns
              where json_type(content_stats) = 'ARRAY')
    )
),

-- each block's type and its bounce codes read once, for every use below
blocks as materialized (
    select *, json_type(summary) as summary_type, json_type(bounces) as bounces_type
    from (select *, json_extract(summary, '$.bounces_unique_by_code') as bounces from summaries)
),

summary_fields as (
    select s.account_id, s.campaign_id, s.scope_key, s.observed_at, s.breakdown_type, s.breakdown_value,
        'campaigns' as endpoint,
        s.block || '.' || f.key as field,
        f.key as metric,
        f.value as v,
        greenarrow__summary_kind(f.key) as kind
    from (select *, unnest(etl__members(summary)) as f from blocks where summary_type = 'OBJECT') as s
    where f.key <> 'bounces_unique_by_code'
),

bounce_codes as (
    -- DOC: bounces_unique_by_code is {}, null or code -> count; {} and null hold nothing to load
    select s.account_id, s.campaign_id, s.scope_key, s.observed_at,
        case when s.breakdown_type = 'total' then 'bounce_code' else 'content_bounce_code' end as breakdown_type,
        case when s.breakdown_type = 'total' then c.key else s.breakdown_value || '/' || c.key end as breakdown_value,
        'campaigns' as endpoint,
        s.block || '.bounces_unique_by_code.' || c.key as field,
        'bounces_unique' as metric,
        c.value as v,
        'count' as kind
    from (select *, unnest(etl__members(bounces)) as c from blocks where bounces_type = 'OBJECT') as s
),

link_fields as (
    select l.account_id, l.campaign_id, l.scope_key, l.observed_at,
        'link' as breakdown_type,
        l.payload ->> '$.link_id' as breakdown_value,
        'link_stats' as endpoint,
        'links[' || coalesce(l.payload ->> '$.link_id', '?') || '].' || f.key as field,
        f.key as metric,
        f.value as v,
        greenarrow__link_kind(f.key) as kind
    from (select *, unnest(etl__members(payload)) as f from links where json_type(payload) = 'OBJECT') as l
),

candidates as (
    select * from summary_fields
    union all
    select * from bounce_codes
    union all
    select * from link_fields
),

missing_blocks as (
    -- a block that should hold metrics and does not: one row naming it, or its metrics would vanish unseen
    select account_id, campaign_id, scope_key, observed_at, breakdown_type, breakdown_value,
        'campaigns' as endpoint,
        block as field,
        summary as v,
        'block' as kind,
        case when not block_sent then 'missing block'
             when summary_type = 'NULL' then 'null block'
             else 'not an object' end as block_reason
    from blocks
    where has_started and coalesce(summary_type, 'NULL') <> 'OBJECT'
    union all
    select account_id, campaign_id, scope_key, observed_at, breakdown_type, breakdown_value,
        'campaigns' as endpoint,
        block || '.bounces_unique_by_code' as field,
        bounces as v,
        'block' as kind,
        'not an object' as block_reason
    from blocks
    where summary_type = 'OBJECT'
      and bounces_type not in ('OBJECT', 'NULL')
),

final as (
    select 'greenarrow' as provider, account_id, campaign_id, scope_key, observed_at, breakdown_type,
        breakdown_value, endpoint, field, metric, v, kind, block_reason
    from (select * from candidates union all by name select * from missing_blocks)
)

select * from final
