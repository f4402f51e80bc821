-- materialize: check
-- severity: warning
-- Every campaign status a provider sent is in the status mapping (transforms/seeds/campaign_status), so
-- analytics.campaign_performance.status is never NULL for a campaign whose provider said its status.
select distinct d.provider, d.provider || ' status ' || d.status || ' is not in transforms/seeds/campaign_status'
       as detail
from analytics.dim_campaign as d
left join staging.campaign_status as s on s.provider = d.provider and s.provider_status = d.status
where d.status is not null and s.status is null
