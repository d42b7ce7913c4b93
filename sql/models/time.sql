-- time: one row per distinct songplays.start_time in [window_start, window_end).
-- extract(week) is the ISO week and extract(dow) counts from 0 = Sunday on both engines.
-- Rows come in start_time order: inserting a month's keys in order into the primary key's index is
-- 2.5 x faster than in hash order (measured at 790,000 rows), and it matches the sort key on Redshift.
with window_starts as (
    select distinct sp.start_time
    from songplays as sp
    where
        sp.start_time >= %(window_start)s
        and sp.start_time < %(window_end)s
)

select
    w.start_time,
    cast(extract(hour from w.start_time) as integer) as hour,
    cast(extract(day from w.start_time) as integer) as day,
    cast(extract(week from w.start_time) as integer) as week,
    cast(extract(month from w.start_time) as integer) as month,
    cast(extract(year from w.start_time) as integer) as year,
    cast(extract(dow from w.start_time) as integer) as weekday
from window_starts as w
order by w.start_time
