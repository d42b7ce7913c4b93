-- staging_events: the app's event log as staged from log_data/, one row per event line.
-- Keeps history: rows stay until their source object is restaged (see staging_ledger), so an hourly
-- fact load reads only its own hour. Columns follow log_json_path.json, in its order.
create table if not exists staging_events (
    artist varchar(1024),
    auth varchar(32),
    first_name varchar(256),
    gender varchar(16),
    item_in_session integer,
    last_name varchar(256),
    length double precision,
    level varchar(16),
    location varchar(1024),
    method varchar(16),
    page varchar(64),
    registration double precision,
    session_id integer,
    song varchar(1024),
    status integer,
    ts timestamp,
    user_agent varchar(1024),
    user_id integer,
    _source_key varchar(1024) not null
)
{{ table_options(diststyle='even', sortkey=['ts']) }};
{{ index('staging_events_ts_idx', 'staging_events', ['ts']) }}
{{ index('staging_events_user_ts_idx', 'staging_events', ['user_id', 'ts']) }}
{{ index('staging_events_source_idx', 'staging_events', ['_source_key']) }}
