-- songs (dimension): one row per song id.
create table if not exists songs (
    song_id varchar(32) not null,
    title varchar(1024),
    artist_id varchar(32),
    year integer,
    duration double precision,
    {{ primary_key() }}
)
{{ table_options(distkey='song_id', sortkey=['song_id']) }};
