-- materialize: macro
-- Shoplive value parsing, shared by the Shoplive fact and quarantine files (prefixed shoplive__).
-- Stats fields are documented as integers but arrive as floats too (1.0) and may come as numeric strings
-- ("1.0", "1,234"). A field's kind: count / seconds (a number or a numeric string), auto (an unknown field:
-- loaded when it reads as a number, else left in raw) or descriptive (not a metric).

create or replace macro shoplive__snake(name) as
    lower(regexp_replace(name, '([a-z0-9])([A-Z])', '\1_\2', 'g'));

create or replace macro shoplive__number(t) as
    case when regexp_full_match(trim(t), '[+-]?(\d{1,3}(,\d{3})+|\d+)(\.\d+)?|[+-]?\.\d+')
         then cast(replace(trim(t), ',', '') as double) end;

create or replace macro shoplive__value(v, kind) as
    case
        when kind = 'descriptive' then null
        when coalesce(json_type(v) in ('UBIGINT', 'BIGINT', 'DOUBLE', 'HUGEINT'), false) then cast(v as double)
        when json_type(v) = 'VARCHAR' then shoplive__number(v ->> '$')
    end;

create or replace macro shoplive__reason(v, kind) as
    case
        when kind in ('auto', 'descriptive') or v is null or json_type(v) = 'NULL' then null
        when shoplive__value(v, kind) is not null then null
        when json_type(v) = 'VARCHAR' then printf('not a %s value: %s', kind, v)
        else printf('not a %s value: a JSON %s', kind, lower(json_type(v)))
    end;

create or replace macro shoplive__unit(kind) as
    case when kind = 'auto' then 'count' else kind end;

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
