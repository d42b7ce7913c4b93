-- songs: one row per staged song id (year 0, the data's "unknown", becomes NULL).
with ranked_songs as (
    select
        s.song_id,
        s.title,
        s.artist_id,
        s.year,
        s.duration,
        row_number() over (partition by s.song_id order by s._source_key) as preference
    from staging_songs as s
    where s.song_id is not null
)

select
    r.song_id,
    r.title,
    r.artist_id,
    nullif(r.year, 0) as year,
    r.duration
from ranked_songs as r
where r.preference = 1
