-- materialize: macro
-- grain: none (macros). Shoplive field kinds for etl__value / etl__reason (00_macros/values.sql), read by
-- by_provider/int_shoplive__metric_fields.sql. Stats fields are documented as integers but arrive as floats (1.0) and
-- as
-- number text ("1.0", "1,234"); every kind below reads both.

-- campaign/stats fields
create or replace macro shoplive__stats_kind(field) as
    case
        when field in ('campaignId', 'campaignKey', 'accessKey', 'title', 'scheduledAt', 'startedAt', 'endedAt')
            then 'descriptive'
        -- ASSUMPTION (docs/providers/shoplive.md): viewing times are seconds
        when field in ('totalViewingTime', 'averageViewingTime') then 'seconds'
        when field in ('totalViewers', 'totalLoginViewers', 'newLoginViewers', 'peakConcurrentViewers', 'likes',
                       'likeViewers', 'averageLikes', 'chats', 'chatViewers', 'averageChats', 'productClicks',
                       'productClickViewers', 'averageProductClicks', 'bannerClicks') then 'count'
        else 'auto'
    end;
