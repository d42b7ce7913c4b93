-- users: one row per user id seen in any event of [window_start, window_end). staging_events.user_id is
-- an integer column, so a userId that is not one ("abc", 99999999999) fails staging naming its object,
-- line and field, and "" (a logged-out event) stages as NULL. Names, gender and level come from the
-- user's most recent staged event by ts (of any window; ties: the latest session, then item), so
-- reprocessing an old hour never rolls a user back to an earlier level.
with window_users as (
    select distinct e.user_id
    from staging_events as e
    where
        e.user_id is not null
        and e.ts >= %(window_start)s
        and e.ts < %(window_end)s
),

latest as (
    -- each window user's latest staged event, of any window: the max of one (user_id, ts) index range,
    -- read as a single descent per user, so neither an hour nor a month reads the users' events in bulk
    select
        w.user_id,
        (
            select max(e.ts)
            from staging_events as e
            where e.user_id = w.user_id
        ) as latest_ts
    from window_users as w
),

ranked_events as (
    -- only the events at each user's latest ts are read again (an index lookup each), not sorted in bulk
    select
        e.user_id,
        e.first_name,
        e.last_name,
        e.gender,
        e.level,
        row_number() over (
            partition by e.user_id
            order by e.session_id desc, e.item_in_session desc
        ) as recency
    from staging_events as e
    inner join latest as l
        on
            e.user_id = l.user_id
            and e.ts = l.latest_ts
)

select
    r.user_id,
    r.first_name,
    r.last_name,
    r.gender,
    r.level
from ranked_events as r
where r.recency = 1
