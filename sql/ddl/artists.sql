-- artists (dimension): one row per artist id.
create table if not exists artists (
    artist_id varchar(32) not null,
    name varchar(1024),
    location varchar(1024),
    latitude double precision,
    longitude double precision,
    {{ primary_key() }}
)
{{ table_options(diststyle='all', sortkey=['artist_id']) }};
