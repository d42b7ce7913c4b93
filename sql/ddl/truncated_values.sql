-- truncated_values: per staged object and column, the values COPY's TRUNCATECOLUMNS cut to the column's
-- length (the row is staged with the cut value): how many, and the first one (its line, full length and
-- start). A warn-level check reports them; rows of an object are replaced when it is staged again.
create table if not exists truncated_values (
    table_name varchar(128) not null,
    object_key varchar(1024) not null,
    column_name varchar(128) not null,
    value_count bigint not null,
    first_line bigint,
    longest bigint not null,
    example varchar(256),
    run_id varchar(256),
    counted_at timestamp not null
)
{{ table_options(diststyle='all', sortkey=['counted_at']) }};
{{ index('truncated_values_object_idx', 'truncated_values', ['table_name', 'object_key']) }}
