-- songplays (fact): one row per NextSong event. songplay_id is the play's time to the millisecond, then a
-- hash of the event's identity (decision 0001): ids sort by time, and a rerun of any window writes the same ids.
create table if not exists songplays (
    songplay_id varchar(32) not null,
    start_time timestamp not null,
    user_id integer,
    level varchar(16),
    song_id varchar(32),
    artist_id varchar(32),
    session_id integer,
    location varchar(1024),
    user_agent varchar(1024),
    {{ primary_key() }}
)
{{ table_options(distkey='song_id', sortkey=['start_time']) }};
{{ index('songplays_start_time_idx', 'songplays', ['start_time']) }}
