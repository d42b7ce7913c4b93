-- staging_ledger: one row per source object staged into a staging table, so that no object is staged
-- twice. An object whose version (ETag, or size and mtime) changed is restaged in place of its rows.
-- load_unit is the key that the object's rows carry in _source_key: the object itself, or, where
-- Redshift loads many small objects with one manifest COPY, that manifest.
create table if not exists staging_ledger (
    table_name varchar(128) not null,
    object_key varchar(1024) not null,
    object_version varchar(256) not null,
    object_size bigint,
    row_count bigint,
    load_unit varchar(1024) not null,
    loaded_at timestamp not null,
    primary key (table_name, object_key)
)
{{ table_options(diststyle='all') }};
{{ index('staging_ledger_unit_idx', 'staging_ledger', ['table_name', 'load_unit']) }}
