-- stale_hours: hours whose loaded rows may no longer match their source, because a source object was
-- staged again with other content after those hours had been loaded (a day file corrected or completed
-- late). Written by staging, for the hours before the run's window (the run itself reloads its own);
-- deleted by the fact load that reloads the hour. The songplays check hours_to_reload fails while any
-- are left, naming them: rerun those hours (a backfill with --reprocess-behavior completed).
create table if not exists stale_hours (
    table_name varchar(128) not null,
    hour timestamp not null,
    object_key varchar(1024) not null,
    run_id varchar(256),
    detected_at timestamp not null
)
{{ table_options(diststyle='all', sortkey=['hour']) }};
