-- Accidents and deaths per year, with the deaths in accidents involving each vehicle type.
-- The year is the accident's, from the `data` column, over every source's current snapshot (accidents_by_road_year).
-- Deaths count each accident once; the vehicle columns are the metric for that year, so they do not add up to it.
-- Files cover different years, so `sources` (how many reported accidents that year) explains many a jump. The
-- null year, last, holds the accidents whose date was missing or unreadable.
select
  year,
  count(distinct source)::bigint as sources,
  sum(accidents)::bigint as accidents,
  sum(deaths)::bigint as deaths,
  round(1000.0 * sum(deaths) / sum(accidents), 1)::float8 as deaths_per_1000_accidents,
  sum(deaths_automovel)::bigint as automovel,
  sum(deaths_bicicleta)::bigint as bicicleta,
  sum(deaths_caminhao)::bigint as caminhao,
  sum(deaths_moto)::bigint as moto,
  sum(deaths_onibus)::bigint as onibus
from accidents_by_road_year
group by year
order by year nulls last
