-- plays_per_hour: one row per hour of the day (UTC), with the number of songplays in that hour.
select
    t.hour,
    count(*) as plays
from songplays as sp
inner join time as t on sp.start_time = t.start_time
group by t.hour
order by t.hour
