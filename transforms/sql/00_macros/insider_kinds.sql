-- materialize: macro
-- grain: none (macros). Insider field kinds for etl__value / etl__reason (00_macros/values.sql), read by
-- by_provider/int_insider__metric_fields.sql. overall-metrics sends JSON numbers (rates already 0..1); campaign-metrics
-- sends
-- display strings (counts "1,234", percents "12.50%", money "2,480 TRY"; unsuccessfulMessages.percentage in
-- percent units, as a number or a string without %), see docs/providers/insider.md.

-- overall-metrics fields (one object per campaign and window)
create or replace macro insider__overall_kind(field) as
    case
        when field in ('id', 'builderId', 'campName', 'type', 'status', 'tags', 'sendDate', 'startDate', 'endDate',
                       'messageLink', 'firstButtonLink', 'secondButtonLink') then 'descriptive'
        when field in ('targeted', 'sent', 'dropped', 'delivered', 'undelivered', 'clicks', 'conversions') then 'count'
        when field in ('deliveryRate', 'ctr', 'conversionRate') then 'ratio'
        when field = 'revenue' then 'money'
        when field = 'daysActive' then 'days'
        else 'auto'
    end;

-- campaign-metrics display fields (overview leaves, deviceMetrics, unsuccessfulMessages, clickMetrics entries)
create or replace macro insider__display_kind(field) as
    case
        when field in ('device', 'label', 'name', 'header') then 'descriptive'
        when field in ('targeted', 'sent', 'dropped', 'delivered', 'undelivered', 'clicks', 'conversions', 'count')
            then 'count'
        when field in ('deliveryRate', 'ctr', 'conversionRate', 'clickRatio', 'percentage') then 'percent'
        when field = 'revenue' then 'money'
        else 'auto'
    end;

-- campaign-metrics top-level scalars: status codes and flags are not metrics; an unknown number is
create or replace macro insider__top_kind(field) as
    case
        when field in ('success', 'message', 'name', 'statusName', 'status', 'workingStatus', 'sendType',
                       'primaryGoal', 'startDate', 'endDate', 'isRecurring', 'isTTLEnded', 'alias',
                       'preferredCurrency', 'personalizationStatus') then 'descriptive'
        else 'auto'
    end;
