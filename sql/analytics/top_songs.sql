-- top_songs: the ten most played known songs, one row per song.
select
    s.title,
    a.name as artist,
    count(*) as plays
from songplays as sp
inner join songs as s on sp.song_id = s.song_id
inner join artists as a on sp.artist_id = a.artist_id
group by s.title, a.name
order by plays desc, s.title asc
limit 10
