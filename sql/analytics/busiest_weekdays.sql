-- busiest_weekdays: one row per weekday (0 = Sunday) with the number of songplays.
select
    t.weekday,
    count(*) as plays
from songplays as sp
inner join time as t on sp.start_time = t.start_time
group by t.weekday
order by plays desc, t.weekday asc
