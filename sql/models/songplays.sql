-- songplays: one row per NextSong event whose ts falls in [window_start, window_end).
-- song_id and artist_id come from the staged song with the same title, artist name and duration
-- (NULL when none matches; the smallest song_id when several do).
with window_plays as (
    select
        md5(
            cast(e.session_id as varchar) || '-'
            || cast(e.item_in_session as varchar) || '-'
            || coalesce(e.user_id, '')
        ) as songplay_id,
        e.ts as start_time,
        cast(e.user_id as integer) as user_id,
        e.level,
        e.song,
        e.artist,
        e.length,
        e.session_id,
        e.location,
        btrim(e.user_agent, '"') as user_agent
    from staging_events as e
    where
        e.page = 'NextSong'
        and e.ts >= %(window_start)s
        and e.ts < %(window_end)s
),

distinct_plays as (
    -- an event staged twice (e.g. present in two source objects) is still one songplay
    select
        window_plays.*,
        row_number() over (partition by window_plays.songplay_id order by window_plays.start_time) as copy_number
    from window_plays
),

song_candidates as (
    select
        s.song_id,
        s.artist_id,
        s.title,
        s.artist_name,
        s.duration,
        row_number() over (partition by s.title, s.artist_name, s.duration order by s.song_id) as preference
    from staging_songs as s
    where s.song_id is not null
)

select
    p.songplay_id,
    p.start_time,
    p.user_id,
    p.level,
    s.song_id,
    s.artist_id,
    p.session_id,
    p.location,
    p.user_agent
from distinct_plays as p
left join song_candidates as s
    on
        p.song = s.title
        and p.artist = s.artist_name
        and p.length = s.duration
        and s.preference = 1
where p.copy_number = 1
