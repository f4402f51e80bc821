-- materialize: check
-- severity: fail
-- Counts are never negative.
select provider, campaign_id || ' ' || breakdown_type || '/' || breakdown_value || ' ' || metric || ' = '
       || cast(value as varchar) as detail
from staging.fact_rows
where unit = 'count' and value < 0
