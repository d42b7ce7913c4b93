-- staging_ledger: one row per source object staged into a staging table, so that no object is staged
-- twice. An object whose version (ETag, or MD5 of a local file) changed is restaged in place of its rows.
-- load_unit is the key that the object's rows carry in _source_key: the object itself, or, where
-- Redshift loads many small objects with one manifest COPY, that manifest.
-- object_fingerprint: a local file's size, mtime, inode and ctime when staged, so an unchanged file is
-- not read again; retired_at: when retention deleted the object's staged rows (it is not staged again);
-- audited_margin_seconds: the widest margin around its day that every staged row of the object was found
-- within (sparkify/staging/audit.py), so later runs do not read its rows again to learn it.
-- The three were added later: sparkify/models/ddl.py adds them to an existing table (ADDED_COLUMNS).
create table if not exists staging_ledger (
    table_name varchar(128) not null,
    object_key varchar(1024) not null,
    object_version varchar(256) not null,
    object_size bigint,
    row_count bigint,
    load_unit varchar(1024) not null,
    loaded_at timestamp not null,
    object_fingerprint varchar(128),
    retired_at timestamp,
    audited_margin_seconds bigint,
    primary key (table_name, object_key)
)
{{ table_options(diststyle='all') }};
{{ index('staging_ledger_unit_idx', 'staging_ledger', ['table_name', 'load_unit']) }}
