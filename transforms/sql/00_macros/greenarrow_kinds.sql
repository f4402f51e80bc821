-- materialize: macro
-- grain: none (macros). GreenArrow field kinds for etl__value / etl__reason (00_macros/values.sql), read by
-- by_provider/int_greenarrow__metric_fields.sql. Known fields are those of
-- transforms/seeds/conformed_metrics/greenarrow.csv;
-- a field GreenArrow adds later is 'auto' (loaded when it reads as a number).

-- stat_summary fields, of the campaign and of each content_stats slice
create or replace macro greenarrow__summary_kind(field) as
    case
        when field in ('stat_id', 'stat_slice_id') then 'descriptive'     -- identifiers, not metrics
        when field = 'open_ratio' then 'multiple'                         -- opens_total / opens_unique, >= 1
        when field like '%\_rate' escape '\' or field like '%\_rate\_%' escape '\' then 'ratio'   -- 0..1 as sent
        when field in ('messages_sent', 'total_messages', 'total_success', 'total_failure', 'total_failure_toolong',
                       'accepted', 'in_queue', 'sent_text', 'sent_html', 'sent_multipart', 'messages_html',
                       'messages_text', 'skips_error', 'skips_request', 'opens_total', 'opens_unique',
                       'duplicate_opens', 'unopened', 'clicks_total', 'clicks_unique', 'duplicate_clicks',
                       'unclicked', 'clicks_unique_by_link', 'bounces_total', 'bounces_unique', 'bounced',
                       'bounces_unique_hard', 'bounces_unique_soft', 'bounces_unique_other', 'bounces_unique_local',
                       'bounces_unique_remote', 'duplicate_bounces', 'unbounced', 'bounces_status_updated',
                       'unsubs_total', 'unsubs_unique', 'duplicate_unsubs', 'unsubs_status_updated',
                       'scomps_total', 'scomps_unique', 'duplicate_scomps', 'scomps_status_updated',
                       'max_unique_activities') then 'count'
        else 'auto'
    end;

-- link_stats rows (one per link)
create or replace macro greenarrow__link_kind(field) as
    case
        when field in ('link_id', 'url') then 'descriptive'
        when field in ('clicks_total', 'clicks_unique', 'clicks_unique_by_link') then 'count'
        else 'auto'
    end;
