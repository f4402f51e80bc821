-- Merges the campaign observations of this transform into analytics.dim_campaign (transforms/dimension.py).
-- Input: temp view dim_campaign_observations, the union of the dim models' rows (provider, account_id,
-- campaign_id, campaign_name, channel, status, started_at, finished_at, scheduled_at, details, observed_at).
-- Rule: the newest non-null attribute wins and first/last seen widen; status and finished_at describe one
-- execution and move together (a new run's NULL finished_at must not keep the previous run's end).

-- the newer side's value, else the other's: old_wins = the row already in the dim was seen last
create or replace temp macro dim_campaign__newest(old_wins, old_value, new_value) as
    case when old_wins then coalesce(old_value, new_value) else coalesce(new_value, old_value) end;

-- one row per campaign from this transform's observations
create or replace temp table dim_campaign_observed as
select provider, account_id, campaign_id,
    arg_max(campaign_name, observed_at) filter (where campaign_name is not null) as campaign_name,
    arg_max(channel, observed_at) filter (where channel is not null) as channel,
    -- status, started_at and finished_at from the newest observation that has a status
    arg_max(status, observed_at) filter (where status is not null) as status,
    coalesce(arg_max(started_at, observed_at) filter (where status is not null),
             arg_max(started_at, observed_at) filter (where started_at is not null)) as started_at,
    arg_max(finished_at, observed_at) filter (where status is not null) as finished_at,
    arg_max(scheduled_at, observed_at) filter (where scheduled_at is not null) as scheduled_at,
    arg_max(details, observed_at) filter (where details is not null) as details,
    min(observed_at) as first_seen_at,
    max(observed_at) as last_seen_at
from dim_campaign_observations
where campaign_id is not null
group by provider, account_id, campaign_id;

-- each observed campaign with the row the dim already has (o is NULL for a new campaign)
create or replace temp table dim_campaign_merged as
with paired as (
    select n, o, o.last_seen_at > n.last_seen_at as old_wins
    from dim_campaign_observed as n
    left join analytics.dim_campaign as o
      on o.provider = n.provider and o.account_id = n.account_id and o.campaign_id = n.campaign_id
)
select n.provider, n.account_id, n.campaign_id,
    dim_campaign__newest(old_wins, o.campaign_name, n.campaign_name) as campaign_name,
    dim_campaign__newest(old_wins, o.channel, n.channel) as channel,
    dim_campaign__newest(old_wins, o.status, n.status) as status,
    dim_campaign__newest(old_wins, o.started_at, n.started_at) as started_at,
    case when old_wins or n.status is null then o.finished_at else n.finished_at end as finished_at,
    dim_campaign__newest(old_wins, o.scheduled_at, n.scheduled_at) as scheduled_at,
    dim_campaign__newest(old_wins, o.details, n.details) as details,
    least(o.first_seen_at, n.first_seen_at) as first_seen_at,
    greatest(o.last_seen_at, n.last_seen_at) as last_seen_at
from paired;

delete from analytics.dim_campaign as d
using dim_campaign_merged as m
where d.provider = m.provider and d.account_id = m.account_id and d.campaign_id = m.campaign_id;

insert into analytics.dim_campaign by name
select * from dim_campaign_merged;
