-- materialize: macro
-- Insider value parsing, shared by the Insider fact and quarantine files (prefixed insider__ to avoid clashes).
-- Insider sends JSON numbers (overall-metrics; rates already 0..1) and display strings (campaign-metrics):
-- counts "1,234", percents "12.50%" (or a percent-unit number / string for unsuccessfulMessages.percentage),
-- money "2,480 TRY" (a bare "USD" has no amount). A field's kind says how to read it:
--   count, days  a number or a count string                      unit count / days
--   ratio        a 0..1 number (a "12.5%" string is read too)    unit ratio
--   percent      "12.50%", or a number / string in percent units unit ratio (divided by 100)
--   money        "2,480 TRY" or a number in the account currency unit currency
--   auto         an unknown field: loaded when it reads as a number, percent or money, else left in raw
--   descriptive  not a metric
-- insider__value is null when there is nothing to load; insider__reason says why a known metric field could not
-- be read (JSON null and a currency code without an amount are "nothing to load", not failures).

create or replace macro insider__snake(name) as
    lower(regexp_replace(name, '([a-z0-9])([A-Z])', '\1_\2', 'g'));

create or replace macro insider__number(t) as
    case when regexp_full_match(trim(t), '[+-]?(\d{1,3}(,\d{3})+|\d+)(\.\d+)?|[+-]?\.\d+')
         then cast(replace(trim(t), ',', '') as double) end;

create or replace macro insider__percent_text(t) as
    case when regexp_full_match(trim(t), '.+%')
         then insider__number(left(trim(t), length(trim(t)) - 1)) / 100 end;

create or replace macro insider__is_money(t) as
    coalesce(regexp_full_match(trim(t), '[+-]?[\d,]*\.?\d*\s*[A-Z]{3}'), false);

create or replace macro insider__money_amount(t) as
    insider__number(regexp_extract(trim(t), '^([+-]?[\d,]*\.?\d*)\s*([A-Z]{3})$', 1));

create or replace macro insider__money_currency(t) as
    nullif(regexp_extract(trim(t), '^([+-]?[\d,]*\.?\d*)\s*([A-Z]{3})$', 2), '');

create or replace macro insider__is_number(v) as
    coalesce(json_type(v) in ('UBIGINT', 'BIGINT', 'DOUBLE', 'HUGEINT'), false);

create or replace macro insider__text(v) as
    case when json_type(v) = 'VARCHAR' then v ->> '$' end;

create or replace macro insider__value(v, kind) as
    case
        when kind = 'descriptive' then null
        when insider__is_number(v) then cast(v as double) / (case when kind = 'percent' then 100 else 1 end)
        when json_type(v) = 'VARCHAR' then (case
            when kind in ('count', 'days') then insider__number(v ->> '$')
            when kind = 'ratio' then coalesce(insider__percent_text(v ->> '$'), insider__number(v ->> '$'))
            when kind = 'percent' then coalesce(insider__percent_text(v ->> '$'), insider__number(v ->> '$') / 100)
            when kind = 'money' then (case when insider__is_money(v ->> '$') then insider__money_amount(v ->> '$')
                                           else insider__number(v ->> '$') end)
            when kind = 'auto' then coalesce(insider__percent_text(v ->> '$'), insider__money_amount(v ->> '$'),
                                             insider__number(v ->> '$'))
        end)
    end;

create or replace macro insider__unit(v, kind) as
    case
        when kind in ('ratio', 'percent') then 'ratio'
        when kind = 'money' then 'currency'
        when kind = 'auto' then (case
            when insider__percent_text(insider__text(v)) is not null then 'ratio'
            when insider__money_amount(insider__text(v)) is not null then 'currency'
            else 'count' end)
        else kind
    end;

create or replace macro insider__currency(v, kind, account_currency) as
    case
        when kind not in ('money', 'auto') then null
        when insider__is_money(insider__text(v)) then insider__money_currency(insider__text(v))
        when kind = 'money' then account_currency
    end;

create or replace macro insider__reason(v, kind) as
    case
        when kind in ('auto', 'descriptive') or v is null or json_type(v) = 'NULL' then null
        when insider__value(v, kind) is not null then null
        when kind = 'money' and insider__is_money(insider__text(v)) then null
        when json_type(v) = 'VARCHAR' then printf('not a %s value: %s', kind, v)
        else printf('not a %s value: a JSON %s', kind, lower(json_type(v)))
    end;

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
