-- quarantined_records: one row per source record that staging left out, under the `quarantine` policy
-- for bad records (the default policy fails the object instead). Each row says which staging table the
-- record was bound for, the object and line it came from, the field at fault and why, and the record's
-- text. Rows of an object are replaced when the object is staged again (a repaired version), so the
-- table always describes the staged versions.
create table if not exists quarantined_records (
    table_name varchar(128) not null,
    object_key varchar(1024) not null,
    line_number bigint,
    field varchar(256),
    reason varchar(1024) not null,
    record varchar(4096),
    run_id varchar(256),
    quarantined_at timestamp not null
)
{{ table_options(diststyle='all', sortkey=['quarantined_at']) }};
{{ index('quarantined_records_object_idx', 'quarantined_records', ['table_name', 'object_key']) }}
