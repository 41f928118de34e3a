-- Deaths per 1,000 accidents on each road, highest first.
-- An accident is a row the deaths step accepted; its deaths count once whatever vehicles it involved. Summed over
-- the sources that publish the road and over every year of their current snapshots (accidents_by_road_year). A
-- road with few accidents gives an unsteady rate, which is why its accidents are shown beside it.
select
  road_name,
  sum(accidents)::bigint as accidents,
  sum(deaths)::bigint as deaths,
  round(1000.0 * sum(deaths) / sum(accidents), 1)::float8 as deaths_per_1000_accidents
from accidents_by_road_year
group by road_name
order by deaths_per_1000_accidents desc, road_name
