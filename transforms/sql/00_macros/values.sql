-- materialize: macro
-- grain: none (macros). How every provider's values become numbers, units, currencies or quarantine reasons;
-- used by transforms/sql/20_intermediate/int_metric_values.sql and nothing else, so the rule is written and
-- applied once (etl__members and etl__elements, JSON helpers, are read by the field models too).
-- sources/common/parsing.py is the Python twin and tests/common/test_parsing.py runs both over one table of cases.
-- Macros are bound when created, so each is defined after those it calls.
--
-- v is a JSON value as stored in raw (sources/common/raw.py storable(): an integer beyond 64 bits arrives as its
-- decimal string, NaN / Infinity / -Infinity as those strings). A field's kind says how to read it:
--   count, days, seconds  a number or number text ("1,234", "1234", "1.5", "-3", ".5")   unit = the kind
--   multiple              a number or number text (GreenArrow open_ratio, >= 1)           unit multiple
--   ratio                 a 0..1 number, or percent text "12.5%"                          unit ratio
--   percent               percent text "12.50%", or a number / number text in percent     unit ratio (/ 100)
--   money                 "2,480 TRY", or a number in the account currency                unit currency
--   auto                  an unknown field: loaded when it reads as a number, percent or money, else left in raw
--   descriptive           not a metric
-- etl__reason is null when the value is loaded or there is nothing to load; otherwise it says why the value is
-- quarantined: null, not finite, out of range (|x| >= 2^63), negative <count|seconds|days>, not a <kind> value.
-- etl__value is the number to publish: null whenever etl__reason is not, so fact and quarantine never overlap.
-- A metrics block that is missing, null or of another type is a row of the intermediate models themselves
-- (reasons 'missing block', 'null block', 'not an object' / 'not an array'), not a macro.

create or replace macro etl__snake(name) as
    lower(regexp_replace(name, '([a-z0-9])([A-Z])', '\1_\2', 'g'));

-- thousands separators only in groups of three: "1,23" is not a number
create or replace macro etl__number(t) as
    case when regexp_full_match(trim(t), '[+-]?(\d{1,3}(,\d{3})+|\d+)(\.\d+)?|[+-]?\.\d+')
         then cast(replace(trim(t), ',', '') as double) end;

create or replace macro etl__percent_text(t) as
    case when regexp_full_match(trim(t), '.+%')
         then etl__number(left(trim(t), length(trim(t)) - 1)) / 100 end;

create or replace macro etl__is_money(t) as
    coalesce(regexp_full_match(trim(t), '[+-]?[\d,]*\.?\d*\s*[A-Z]{3}'), false);

-- null for a bare currency code ("USD"): a code alone carries no amount
create or replace macro etl__money_amount(t) as
    etl__number(regexp_extract(trim(t), '^([+-]?[\d,]*\.?\d*)\s*([A-Z]{3})$', 1));

create or replace macro etl__money_currency(t) as
    nullif(regexp_extract(trim(t), '^([+-]?[\d,]*\.?\d*)\s*([A-Z]{3})$', 2), '');

create or replace macro etl__text(v) as
    case when json_type(v) = 'VARCHAR' then v ->> '$' end;

-- The members of JSON object obj as a list of {key, value} (value JSON, a JSON null kept as JSON 'null'), for
-- unnest in a select list: the object is parsed once, and none of the join on the whole document that a lateral
-- json_each costs (twice the time of GreenArrow's field model). Raw objects hold each key once (they are written
-- from parsed Python dicts), which a MAP needs: an object with a repeated key would come back as no members.
create or replace macro etl__members(obj) as
    list_transform(map_entries(json_transform(obj, '"MAP(VARCHAR, JSON)"')),
                   lambda e: {'key': e.key, 'value': coalesce(e.value, json('null'))});

-- The elements of JSON array arr the same way: key the element's index as text (0, 1, ...), as json_each says it.
create or replace macro etl__elements(arr) as
    list_transform(json_transform(arr, '["JSON"]'),
                   lambda e, i: {'key': cast(i - 1 as varchar), 'value': coalesce(e, json('null'))});

-- The rule proper works on a value v with its JSON type t = json_type(v) and its text s = etl__text(v), which a
-- model computes once per row (etl__typed_*): every JSON function keeps a vector of parsed documents per call
-- site, and the rule reads the type and the text a dozen times. etl__read / etl__unit / etl__currency /
-- etl__reason / etl__value below are the same rule on v alone.

-- the number a value reads as for its kind, before the checks of etl__check
create or replace macro etl__typed_read(v, t, s, kind) as
    case
        when kind = 'descriptive' or v is null then null
        when coalesce(t in ('UBIGINT', 'BIGINT', 'DOUBLE', 'HUGEINT'), false)
            then cast(v as double) / (case when kind = 'percent' then 100 else 1 end)
        when t = 'VARCHAR' then (case
            when kind in ('count', 'days', 'seconds', 'multiple') then etl__number(s)
            when kind = 'ratio' then coalesce(etl__percent_text(s), etl__number(s))
            when kind = 'percent' then coalesce(etl__percent_text(s), etl__number(s) / 100)
            when kind = 'money' then (case when etl__is_money(s) then etl__money_amount(s) else etl__number(s) end)
            when kind = 'auto' then coalesce(etl__percent_text(s), etl__money_amount(s), etl__number(s))
        end)
    end;

create or replace macro etl__typed_unit(s, kind) as
    case
        when kind = 'descriptive' then null
        when kind in ('ratio', 'percent') then 'ratio'
        when kind = 'money' then 'currency'
        when kind = 'auto' then (case
            when etl__percent_text(s) is not null then 'ratio'
            when etl__money_amount(s) is not null then 'currency'
            else 'count' end)
        else kind
    end;

-- the code of "2,480 TRY"; a money number carries none, so it is in the account's currency
create or replace macro etl__typed_currency(s, kind, account_currency) as
    case
        when kind not in ('money', 'auto') then null
        when etl__is_money(s) then etl__money_currency(s)
        when kind = 'money' then account_currency
    end;

-- why a value is not published, given x = etl__typed_read(...) and unit = etl__typed_unit(...); the intermediate
-- models compute x and unit once per row and call this, since a macro is inlined wherever it is used
create or replace macro etl__typed_check(v, t, s, kind, x, unit) as
    case
        when kind = 'descriptive' or v is null then null
        -- a known metric field sent as null lost its value upstream; an unknown one is merely absent
        when t = 'NULL' then (case when kind <> 'auto' then 'null' end)
        when coalesce(s in ('NaN', 'Infinity', '-Infinity'), false) then 'not finite: ' || s
        when x is null then (case
            when kind = 'auto' then null                                   -- not a number: it stays in raw
            when kind = 'money' and etl__is_money(s) then null             -- a bare currency code, no amount
            when t = 'VARCHAR' then printf('not a %s value: %s', kind, v)
            else printf('not a %s value: a JSON %s', kind, lower(t))
        end)
        -- 2^63 and beyond does not fit a 64-bit integer: a provider fault (10**30, 1.7e308), never a figure; a
        -- digit string too long for a double reads as inf and is out of range too
        when abs(x) >= 9223372036854775808.0 then 'out of range: magnitude >= 2^63'
        when not isfinite(x) then 'not finite: ' || cast(v as varchar)
        when x < 0 and unit in ('count', 'seconds', 'days') then 'negative ' || unit
    end;

create or replace macro etl__read(v, kind) as
    etl__typed_read(v, json_type(v), etl__text(v), kind);

create or replace macro etl__unit(v, kind) as
    etl__typed_unit(etl__text(v), kind);

create or replace macro etl__currency(v, kind, account_currency) as
    etl__typed_currency(etl__text(v), kind, account_currency);

create or replace macro etl__check(v, kind, x, unit) as
    etl__typed_check(v, json_type(v), etl__text(v), kind, x, unit);

create or replace macro etl__reason(v, kind) as
    etl__check(v, kind, etl__read(v, kind), etl__unit(v, kind));

create or replace macro etl__value(v, kind) as
    case when etl__reason(v, kind) is null then etl__read(v, kind) end;
