-- materialize: batch_table
-- grain: one row per candidate metric field (or missing metrics block) of every provider, from the field models in
-- by_provider/, each read by the one rule of 00_macros/values.sql: value is set when the value is published,
-- reason when it is quarantined (null, not finite, out of range, a negative count, unreadable; a block that is
-- missing, null or of another type). 30_marts/fct_metrics.sql and quarantine_values.sql only filter this
-- relation, so fact and quarantine can never disagree; it is a temp table rebuilt per batch of scopes, so the
-- JSON is read once for both.
with fields as (
    select * from int_experiture__metric_fields
    union all by name
    select * from int_greenarrow__metric_fields
    union all by name
    select * from int_insider__metric_fields
    union all by name
    select * from int_parrot__metric_fields
    union all by name
    select * from int_shoplive__metric_fields
),

typed as (
    -- the JSON type and text of each value computed once (00_macros/values.sql, etl__typed_*)
    select *, json_type(v) as v_type, etl__text(v) as v_text
    from fields
    where kind <> 'descriptive'
),

readings as (
    -- each macro once per row (a macro is inlined wherever it is used): value and reason below are
    -- etl__value(v, kind) and etl__reason(v, kind) = etl__check(v, kind, etl__read(v, kind), etl__unit(v, kind))
    select *,
        case when block_reason is null then etl__typed_read(v, v_type, v_text, kind) end as number,
        case when block_reason is null then etl__typed_unit(v_text, kind) end as unit,
        case when block_reason is null then etl__typed_currency(v_text, kind, account_currency) end as currency
    from typed
),

checked as (
    select *, coalesce(block_reason, etl__typed_check(v, v_type, v_text, kind, number, unit)) as reason
    from readings
),

final as (
    select provider, account_id, campaign_id, scope_key, observed_at, period_start, period_end, breakdown_type,
        breakdown_value, endpoint, field, metric,
        cast(v as varchar) as raw_value,
        case when reason is null then number end as value,
        unit,
        currency,
        reason,
        coalesce(priority, 0) as priority
    from checked
)

select * from final
