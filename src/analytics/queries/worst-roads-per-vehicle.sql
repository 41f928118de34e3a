-- The five roads with the most deaths for each vehicle type.
-- For each of the five types, the roads ranked by deaths in accidents involving that type, summed over the
-- sources that publish the road (their current snapshots, table deaths_by_vehicle). Ties share a rank, so a type
-- can list more than five roads; roads with no such death are left out. `sources` counts the concessionaires
-- whose files name the road.
with per_road as (
  select vehicle, road_name, sum(number_deaths)::bigint as deaths, count(distinct source)::bigint as sources
  from deaths_by_vehicle
  group by vehicle, road_name
),
ranked as (
  select
    vehicle,
    rank() over (partition by vehicle order by deaths desc)::bigint as rank,
    road_name,
    deaths,
    sources
  from per_road
  where deaths > 0
)
select vehicle, rank, road_name, deaths, sources
from ranked
where rank <= 5
order by vehicle, rank, road_name
