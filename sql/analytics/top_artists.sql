-- top_artists: the ten most played known artists, one row per artist.
select
    a.name as artist,
    count(*) as plays
from songplays as sp
inner join artists as a on sp.artist_id = a.artist_id
group by a.name
order by plays desc, a.name asc
limit 10
