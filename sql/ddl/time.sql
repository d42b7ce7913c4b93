-- time (dimension): one row per distinct songplays.start_time.
-- week is the ISO 8601 week; weekday counts from 0 = Sunday to 6 = Saturday.
create table if not exists time (
    start_time timestamp not null,
    hour integer not null,
    day integer not null,
    week integer not null,
    month integer not null,
    year integer not null,
    weekday integer not null,
    {{ primary_key() }}
)
{{ table_options(diststyle='all', sortkey=['start_time']) }};
