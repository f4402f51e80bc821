-- materialize: check
-- severity: critical
-- applies_to: select distinct provider from staging.conformed_metrics where unit = 'ratio'
-- Rates are ratios between 0 and 1 (a percentage that was not divided by 100 shows up here).
select provider, campaign_id || ' ' || breakdown_type || '/' || breakdown_value || ' ' || metric || ' = '
       || cast(value as varchar) as detail
from staging.fact_rows
where unit = 'ratio' and (value < 0 or value > 1)
