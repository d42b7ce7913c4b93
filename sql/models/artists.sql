-- artists: one row per staged artist id, described by the artist's song with the smallest song_id.
with ranked_artists as (
    select
        s.artist_id,
        s.artist_name,
        s.artist_location,
        s.artist_latitude,
        s.artist_longitude,
        row_number() over (partition by s.artist_id order by s.song_id, s._source_key) as preference
    from staging_songs as s
    where s.artist_id is not null
)

select
    r.artist_id,
    r.artist_name as name,
    r.artist_location as location,
    r.artist_latitude as latitude,
    r.artist_longitude as longitude
from ranked_artists as r
where r.preference = 1
