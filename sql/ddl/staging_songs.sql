-- staging_songs: song metadata as staged from song_data/, one row per song file's object.
-- Column names equal the JSON keys, so COPY ... JSON 'auto' maps them.
create table if not exists staging_songs (
    num_songs integer,
    artist_id varchar(32),
    artist_latitude double precision,
    artist_longitude double precision,
    artist_location varchar(1024),
    artist_name varchar(1024),
    song_id varchar(32),
    title varchar(1024),
    duration double precision,
    year integer,
    _source_key varchar(1024) not null
)
{{ table_options(diststyle='all') }};
{{ index('staging_songs_match_idx', 'staging_songs', ['title', 'artist_name', 'duration']) }}
{{ index('staging_songs_source_idx', 'staging_songs', ['_source_key']) }}
