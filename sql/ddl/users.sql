-- users (dimension): one row per user id, attributes from the user's most recent event.
create table if not exists users (
    user_id integer not null,
    first_name varchar(256),
    last_name varchar(256),
    gender varchar(16),
    level varchar(16),
    {{ primary_key() }}
)
{{ table_options(diststyle='all', sortkey=['user_id']) }};
