-- quality_results: one row per data-quality check per run, for charting quality over time. A volume
-- check reads its own values of the 7 days before from it every hour (observed_value, through the index
-- on table, check and window_end), and asks which of the days it never checked any run did (the index on
-- window_end): both in the rows of the windows since, not in the whole history of checks.
create table if not exists quality_results (
    run_id varchar(256) not null,
    window_start timestamp,
    window_end timestamp,
    table_name varchar(128) not null,
    check_name varchar(256) not null,
    severity varchar(8) not null,
    passed boolean not null,
    observed varchar(1024),
    expected varchar(1024),
    checked_at timestamp not null,
    -- the observed value when it is a number (added after release: last, as an upgraded table has it)
    observed_value double precision
)
{{ table_options(diststyle='all', sortkey=['checked_at']) }};
{{ index('quality_results_checked_at_idx', 'quality_results', ['checked_at']) }}
{{ index('quality_results_window_idx', 'quality_results', ['window_end', 'window_start']) }}
{{ index('quality_results_check_idx', 'quality_results', ['table_name', 'check_name', 'window_end']) }}
