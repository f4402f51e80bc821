-- materialize: check
-- severity: warning
-- Every metric in the fact is in the metric dictionary (mapped to a conformed name, or listed as provider-only).
-- A provider adding a field shows up here before anyone wonders where it went.
select distinct f.provider, f.metric || ' is not in transforms/seeds/conformed_metrics' as detail
from staging.fact_rows as f
left join staging.conformed_metrics as m on m.provider = f.provider and m.metric = f.metric
where m.metric is null
