-- free_vs_paid: one row per subscription level at play time, with plays, listeners and their share.
select
    sp.level,
    count(*) as plays,
    count(distinct sp.user_id) as listeners,
    round(100.0 * count(*) / sum(count(*)) over (), 1) as share_of_plays_pct
from songplays as sp
group by sp.level
order by sp.level
