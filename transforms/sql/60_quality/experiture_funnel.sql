-- materialize: check
-- severity: critical
-- applies_to: select 'experiture'
-- The Experiture pipeline only loses records: scheduled >= hydrated >= composed >= injected.
with funnel as (
    select provider, campaign_id,
        max(value) filter (where metric = 'scheduled') as scheduled,
        max(value) filter (where metric = 'hydrated') as hydrated,
        max(value) filter (where metric = 'composed') as composed,
        max(value) filter (where metric = 'injected') as injected
    from staging.fact_rows
    where provider = 'experiture' and breakdown_type = 'total'
    group by all
)
select provider, campaign_id || ': scheduled ' || cast(scheduled as varchar) || ', hydrated '
       || cast(hydrated as varchar) || ', composed ' || cast(composed as varchar) || ', injected '
       || cast(injected as varchar) as detail
from funnel
where scheduled < hydrated or hydrated < composed or composed < injected
