-- sessions_per_user: the ten users with the most listening sessions, one row per user.
select
    u.user_id,
    u.first_name,
    u.last_name,
    u.level,
    count(distinct sp.session_id) as sessions,
    count(*) as plays
from songplays as sp
inner join users as u on sp.user_id = u.user_id
group by u.user_id, u.first_name, u.last_name, u.level
order by sessions desc, plays desc, u.user_id asc
limit 10
