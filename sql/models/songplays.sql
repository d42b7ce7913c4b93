-- songplays: one row per distinct NextSong play whose ts falls in [window_start, window_end).
--
-- Identity of a play: (session_id, item_in_session, user_id, ts). songplay_id is ts to the millisecond
-- (17 digits) followed by 15 hex digits of the md5 of those four, so a rerun of any window writes the same
-- ids, and an hour's ids sort after history's: its inserts land at the key index's right edge instead of
-- on a random page each (decision 0001). ts is part of the identity on purpose:
--   * an exact duplicate line (same session, item, user and ts, e.g. a line repeated in a file or present
--     in two source objects) is one play;
--   * the same session, item and user at another ts (an app resending an event an hour or a day later, or
--     a ts a fraction of a millisecond apart) is another play, and it belongs to the window of its own ts.
-- Every copy of one identity therefore falls in the same window, so deduplicating inside the window is
-- deduplicating everywhere: 24 hourly runs equal one daily run whatever the data holds.
-- When copies of one play differ in other fields, the copy from the first source object (by key) wins,
-- then the smallest level, song, artist, length, location and user agent (NULLs last): deterministic.
-- song_id and artist_id come from the staged song with the same title, artist name and duration
-- (NULL when none matches; the smallest song_id when several do), among the versions songs publishes.
with window_plays as (
    select
        e.ts as start_time,
        e.user_id,
        e.level,
        e.song,
        e.artist,
        e.length,
        e.session_id,
        e.item_in_session,
        e.location,
        e.user_agent,
        e._source_key
    from staging_events as e
    where
        e.page = 'NextSong'
        and e.ts >= %(window_start)s
        and e.ts < %(window_end)s
),

distinct_plays as (
    select
        window_plays.*,
        -- the identity's columns, ts first and as staged: the window's rows arrive in ts order from
        -- staging's ts index, so PostgreSQL sorts only the rows of one ts at a time (an incremental
        -- sort) instead of the whole window
        row_number() over (
            partition by
                window_plays.start_time,
                window_plays.session_id,
                window_plays.item_in_session,
                window_plays.user_id
            order by
                window_plays._source_key,
                window_plays.level,
                window_plays.song,
                window_plays.artist,
                window_plays.length,
                window_plays.location,
                window_plays.user_agent
        ) as copy_number
    from window_plays
    -- the id and the trimmed user agent are computed after deduplication, so that the sort carries the
    -- raw columns only
),

song_versions as (
    -- a song_id staged with different attributes in several objects: the version songs.sql publishes
    -- (the first object by key) is the only one a play can match, so no play is published under a song
    -- whose attributes it did not match (conflicting_song_versions in songs.yml warns of such ids)
    select
        s.song_id,
        s.artist_id,
        s.title,
        s.artist_name,
        s.duration,
        row_number() over (partition by s.song_id order by s._source_key) as version
    from staging_songs as s
    where s.song_id is not null
),

song_candidates as (
    select
        v.song_id,
        v.artist_id,
        v.title,
        v.artist_name,
        v.duration,
        row_number() over (partition by v.title, v.artist_name, v.duration order by v.song_id) as preference
    from song_versions as v
    where v.version = 1
)

select
    to_char(p.start_time, 'YYYYMMDDHH24MISSMS')
    || left(
        md5(
            cast(p.session_id as varchar) || '-'
            || cast(p.item_in_session as varchar) || '-'
            || coalesce(cast(p.user_id as varchar), '') || '-'
            -- to the millisecond, as a JSON ts in milliseconds stages; a ts with a fraction of a
            -- millisecond (its own play) to the microsecond, so that its id differs
            || case
                when p.start_time = date_trunc('milliseconds', p.start_time)
                    then to_char(p.start_time, 'YYYY-MM-DD HH24:MI:SS.MS')
                else to_char(p.start_time, 'YYYY-MM-DD HH24:MI:SS.US')
            end
        ),
        15
    ) as songplay_id,
    p.start_time,
    p.user_id,
    p.level,
    s.song_id,
    s.artist_id,
    p.session_id,
    p.location,
    btrim(p.user_agent, '"') as user_agent
from distinct_plays as p
left join song_candidates as s
    on
        p.song = s.title
        and p.artist = s.artist_name
        and p.length = s.duration
        and s.preference = 1
where p.copy_number = 1
