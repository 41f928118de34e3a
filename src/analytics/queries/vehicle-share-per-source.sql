-- Each vehicle type's share of each source's deaths, in percent.
-- For each source and type: the deaths in accidents involving the type (deaths_by_vehicle), the source's deaths
-- counting each accident once (accidents_by_road_year, same snapshot) and the first as a percentage of the second.
-- An accident with several types counts for each of them, so a source's shares can add up to more than 100; one
-- involving none of the five (only `outros`, `utilitarios`, ...) makes them add up to less. A source whose current
-- snapshot was written before migration 0005 has no total yet: its share is null until its next run.
with by_vehicle as (
  select source, created_at, vehicle, sum(number_deaths)::bigint as deaths
  from deaths_by_vehicle
  group by source, created_at, vehicle
),
by_source as (
  select source, created_at, sum(deaths)::bigint as source_deaths
  from accidents_by_road_year
  group by source, created_at
)
select
  v.source,
  v.vehicle,
  v.deaths,
  s.source_deaths,
  round(100.0 * v.deaths / nullif(s.source_deaths, 0), 1)::float8 as share_pct
from by_vehicle v
left join by_source s on s.source = v.source and s.created_at = v.created_at
order by v.source, v.vehicle
