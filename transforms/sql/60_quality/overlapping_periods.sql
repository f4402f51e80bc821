-- materialize: check
-- severity: critical
-- applies_to: select distinct provider from staging.fact_rows where period_start is not null
-- For one (campaign, breakdown, metric) no two rows' periods may overlap: windows lie on one grid.
select a.provider, a.campaign_id || ' ' || a.breakdown_type || '/' || a.breakdown_value || ' ' || a.metric
       || ' ' || cast(a.period_start as varchar) || ' overlaps ' || cast(b.period_start as varchar) as detail
from staging.fact_rows as a
join staging.fact_rows as b
  on a.provider = b.provider and a.account_id = b.account_id and a.campaign_id = b.campaign_id
 and a.breakdown_type = b.breakdown_type and a.breakdown_value = b.breakdown_value and a.metric = b.metric
 and a.period_start < b.period_start and b.period_start < a.period_end
where a.period_start is not null and b.period_start is not null
