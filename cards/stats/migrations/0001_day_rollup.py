"""DayRollup: each learner's days of the review log, summed, kept exact by triggers on the log.

The stats page needs, over the whole history, each day's reviews, re-drills and time (the calendar,
the streaks, time per day) and the grades given, and over the last weeks the retention split (new,
young, mature). Read from the log, that is every row a learner ever answered; read from here, one
row a day. Triggers on cards_reviewlog keep each (user, day) row equal to what the log gives, in the
transaction of the change (as review.Tally is kept, migration review 0003):

- what a log row adds to its own (user, reviewed_on): a "review" or "import" row a review, a
  "redrill" row a re-drill (with its time and grade; a review also new, young or mature by its
  state before, and passed or not); "undo" and "challenge" rows add nothing;
- an undo row takes back what the answer it points at (`undoes`) added, on that answer's day;
- a deleted row takes back what it added (and a deleted undo row gives its answer back);
- a day left with no review and no re-drill has no row.

In other words, the rows always equal AGGREGATE below run over the whole log (what this migration
fills the table with): the sum, per (user, day), of the counted rows no undo row points at. A
change's delta is computed as "that sum over the pairs (row, undo pointing at it) the change adds
or removes", so one statement inserting or deleting an answer and its undo together, in either
order, nets out.

SQLite gets row triggers (they run after each row, so the log they see is the one the formulas
assume); PostgreSQL statement triggers with transition tables (a bulk insert or a cascade updates
each day once), and a TRUNCATE trigger. Reversible: the triggers and the function go, then the table.

The definitions are frozen here as they are in cards/stats/figures.py (MATURE_DAYS, PASSING_QUALITY;
tests/stats/test_rollup.py checks they still agree), and the JSON reads are written as Django renders
the lookups of cards/stats/queries.py on each database, so both give the same answer on odd
snapshots too. A later migration that rebuilds cards_reviewlog on SQLite (Django's table remake)
drops its triggers and must create them again (the test that lists them would fail).
"""

# ruff: noqa: S608 -- the SQL is built from this module's constants only, never from input.

from django.conf import settings
from django.db import migrations, models

MATURE_DAYS = 21
PASSING_QUALITY = 3
REVIEWS = ("review", "import")
REDRILLS = ("redrill",)
COUNTED = (*REVIEWS, *REDRILLS)
GRADES = range(6)
COUNTERS = (
    "reviews", "redrills", "duration_ms", "new_cards", "young", "young_passed", "mature", "mature_passed",
    *(f"reviews_q{q}" for q in GRADES), *(f"redrills_q{q}" for q in GRADES),
)  # fmt: skip
TABLE = "stats_day_rollup"
LOG = "cards_reviewlog"
# A delta row: +1 or -1 times a log row's contribution, with the columns that contribution reads.
COLUMNS = ("user_id", "reviewed_on", "source", "quality", "before", "duration_ms")
TRIGGERS = ("insert", "delete", "update")


def _in(values: tuple[str, ...]) -> str:
    return "(" + ", ".join(f"'{value}'" for value in values) + ")"


def _snapshot(vendor: str, x: str) -> tuple[str, str]:
    """SQL for the interval before the answer (0 when missing), and whether it is a new card's first answer."""
    if vendor == "postgresql":
        interval = f"COALESCE(({x}.before ->> 'interval')::integer, 0)"
        never = f"COALESCE(jsonb_typeof({x}.before -> 'last_reviewed_on'), 'null') = 'null'"
    else:

        def text(key: str) -> str:
            path = f"'$.\"{key}\"'"
            return (
                f"CASE WHEN json_type({x}.before, {path}) IN ('false', 'null', 'true') "
                f"THEN json_type({x}.before, {path}) ELSE json_extract({x}.before, {path}) END"
            )

        interval = f"COALESCE(CAST({text('interval')} AS integer), 0)"
        never = f"(({text('last_reviewed_on')}) = 'null' OR json_type({x}.before, '$.\"last_reviewed_on\"') IS NULL)"
    return interval, f"({never} AND {interval} = 0)"


def _sums(vendor: str, x: str = "x") -> str:
    """The counters' SUMs over delta rows `x` (sign, COLUMNS...), grouped by the caller."""
    interval, new = _snapshot(vendor, x)
    review, redrill = f"{x}.source IN {_in(REVIEWS)}", f"{x}.source IN {_in(REDRILLS)}"
    seen, passed = f"{review} AND NOT {new}", f"{x}.quality >= {PASSING_QUALITY}"
    conditions = {
        "reviews": review,
        "redrills": redrill,
        "new_cards": f"{review} AND {new}",
        "young": f"{seen} AND {interval} < {MATURE_DAYS}",
        "young_passed": f"{seen} AND {interval} < {MATURE_DAYS} AND {passed}",
        "mature": f"{seen} AND {interval} >= {MATURE_DAYS}",
        "mature_passed": f"{seen} AND {interval} >= {MATURE_DAYS} AND {passed}",
        **{f"reviews_q{q}": f"{review} AND {x}.quality = {q}" for q in GRADES},
        **{f"redrills_q{q}": f"{redrill} AND {x}.quality = {q}" for q in GRADES},
    }
    sums = []
    for counter in COUNTERS:
        if counter == "duration_ms":
            sums.append(f"SUM({x}.sign * COALESCE({x}.duration_ms, 0))")
        else:
            sums.append(f"SUM({x}.sign * CASE WHEN {conditions[counter]} THEN 1 ELSE 0 END)")
    return ",\n            ".join(sums)


def _rows(sign: int, alias: str, source: str, where: str = "") -> str:
    """A delta branch: `sign` times the contribution of the rows `alias` of `source` (a table and joins)."""
    columns = ", ".join(f"{alias}.{column}" for column in COLUMNS)
    return f"SELECT {sign} AS sign, {columns} FROM {source}" + (f" WHERE {where}" if where else "")


def _aggregate(vendor: str, delta: str) -> str:
    """SELECT user_id, day, counters... from the delta rows, one row per (user, day) of counted rows."""
    return (
        f"SELECT x.user_id, x.reviewed_on, {_sums(vendor)}\n"
        f"        FROM ({delta}) AS x WHERE x.source IN {_in(COUNTED)} GROUP BY x.user_id, x.reviewed_on"
    )


def _upsert(vendor: str, delta: str) -> str:
    # SQLite takes no alias for the table in a trigger's INSERT: its own columns are unqualified there.
    table, own = (f"{TABLE} AS d", "d.") if vendor == "postgresql" else (TABLE, "")
    updates = ", ".join(f"{c} = {own}{c} + excluded.{c}" for c in COUNTERS)
    return (
        f"INSERT INTO {table} (user_id, day, {', '.join(COUNTERS)})\n"
        f"        {_aggregate(vendor, delta)}\n"
        f"        ON CONFLICT (user_id, day) DO UPDATE SET {updates}"
    )


# The whole log, summed: what the triggers keep the table equal to (and what fills it here).
def aggregate_log(vendor: str) -> str:
    undone = f"EXISTS (SELECT 1 FROM {LOG} AS u WHERE u.undoes_id = l.id)"
    return _aggregate(vendor, _rows(1, "l", f"{LOG} AS l", f"l.source IN {_in(COUNTED)} AND NOT {undone}"))


def _fill(vendor: str) -> list[str]:
    columns = ", ".join(COUNTERS)
    return [f"DELETE FROM {TABLE}", f"INSERT INTO {TABLE} (user_id, day, {columns})\n{aggregate_log(vendor)}"]


# --- SQLite: row triggers ---------------------------------------------------------------------------
# Each fires after its row's change, so the log it reads is the state after that row; "the pairs the
# change adds or removes" are the row's own (as an answer, as an undo) in the state after and before.


def _sqlite_row(sign: int, ref: str, where: str = "") -> str:
    columns = ", ".join(f"{ref}.{column}" for column in COLUMNS)
    return f"SELECT {sign} AS sign, {columns}" + (f" WHERE {where}" if where else "")


def _sqlite_added(new: str) -> list[str]:
    """Branches for row `new` now in the log: it, minus what its undo takes back, minus it if undone."""
    other = f" AND u.id <> {new}.id"
    return [
        _sqlite_row(1, new),
        _rows(-1, "t", f"{LOG} AS t", f"t.id = {new}.undoes_id"),
        _sqlite_row(-1, new, f"EXISTS (SELECT 1 FROM {LOG} AS u WHERE u.undoes_id = {new}.id{other})"),
    ]


def _sqlite_removed(old: str, new: str | None = None) -> list[str]:
    """Branches for row `old` gone from the log (replaced by `new` on an update)."""
    elsewhere = f" AND t.id <> {new}.id" if new else ""
    other = f" AND u.id <> {new}.id" if new else ""
    return [
        _sqlite_row(-1, old),
        _sqlite_row(1, old, f"{old}.undoes_id = {old}.id"),
        _rows(1, "t", f"{LOG} AS t", f"t.id = {old}.undoes_id AND t.id <> {old}.id{elsewhere}"),
        _sqlite_row(1, old, f"EXISTS (SELECT 1 FROM {LOG} AS u WHERE u.undoes_id = {old}.id{other})"),
    ]


def _sqlite_trigger(event: str, branches: list[str]) -> str:
    delta = "\n        UNION ALL ".join(branches)
    return f"""CREATE TRIGGER {TABLE}_{event} AFTER {event.upper()} ON {LOG} BEGIN
        {_upsert("sqlite", delta)};
        DELETE FROM {TABLE} WHERE reviews = 0 AND redrills = 0
        AND (user_id, day) IN (SELECT x.user_id, x.reviewed_on FROM ({delta}) AS x);
    END"""


SQLITE_FORWARD = [
    _sqlite_trigger("insert", _sqlite_added("NEW")),
    _sqlite_trigger("delete", _sqlite_removed("OLD")),
    _sqlite_trigger("update", [*_sqlite_added("NEW"), *_sqlite_removed("OLD", "NEW")]),
]
SQLITE_BACKWARD = [f"DROP TRIGGER IF EXISTS {TABLE}_{event}" for event in TRIGGERS]


# --- PostgreSQL: statement triggers with transition tables ------------------------------------------
# new_rows: the rows as they are now (insert, update); old_rows: as they were (delete, update). The
# log before the statement is (the log now minus new_rows) plus old_rows.


def _pg_delta(*, new: bool, old: bool) -> str:
    not_new = "NOT EXISTS (SELECT 1 FROM new_rows AS m WHERE m.id = {}.id)"
    branches = []
    if new:
        branches += [
            _rows(1, "n", "new_rows AS n"),  # the rows as they are
            _rows(-1, "t", f"new_rows AS u JOIN {LOG} AS t ON t.id = u.undoes_id"),  # what their undos take back
            _rows(  # a row now undone by an undo row already there (only with deferred constraints)
                -1,
                "n",
                "new_rows AS n",
                f"EXISTS (SELECT 1 FROM {LOG} AS u WHERE u.undoes_id = n.id AND {not_new.format('u')})",
            ),  # fmt: skip
        ]
    if old:
        branches += [
            _rows(-1, "o", "old_rows AS o"),  # the rows as they were
            _rows(1, "t", "old_rows AS u JOIN old_rows AS t ON t.id = u.undoes_id"),  # what their undos took back
            _rows(1, "t", f"old_rows AS u JOIN {LOG} AS t ON t.id = u.undoes_id", not_new.format("t") if new else ""),
            _rows(  # an undo row still there that pointed at a row gone or changed (deferred constraints)
                1,
                "o",
                "old_rows AS o",
                f"EXISTS (SELECT 1 FROM {LOG} AS u WHERE u.undoes_id = o.id"
                + (f" AND {not_new.format('u')})" if new else ")"),
            ),  # fmt: skip
        ]
    return "\n            UNION ALL ".join(branches)


def _pg_apply(delta: str) -> str:
    return f"""WITH changed AS (
            {_upsert("postgresql", delta)}
            RETURNING d.id, d.reviews, d.redrills
        )
        SELECT array_agg(id) INTO emptied FROM changed WHERE reviews = 0 AND redrills = 0;
        IF emptied IS NOT NULL THEN
            DELETE FROM {TABLE} WHERE id = ANY(emptied);
        END IF;"""


POSTGRESQL_FORWARD = [
    f"""CREATE FUNCTION {TABLE}_log() RETURNS trigger LANGUAGE plpgsql AS $$
    DECLARE
        emptied bigint[];
    BEGIN
        IF TG_OP = 'TRUNCATE' THEN
            DELETE FROM {TABLE};
        ELSIF TG_OP = 'INSERT' THEN
        {_pg_apply(_pg_delta(new=True, old=False))}
        ELSIF TG_OP = 'DELETE' THEN
        {_pg_apply(_pg_delta(new=False, old=True))}
        ELSE
        {_pg_apply(_pg_delta(new=True, old=True))}
        END IF;
        RETURN NULL;
    END
    $$""",
    f"""CREATE TRIGGER {TABLE}_insert AFTER INSERT ON {LOG}
        REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION {TABLE}_log()""",
    f"""CREATE TRIGGER {TABLE}_delete AFTER DELETE ON {LOG}
        REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION {TABLE}_log()""",
    f"""CREATE TRIGGER {TABLE}_update AFTER UPDATE ON {LOG}
        REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION {TABLE}_log()""",
    f"""CREATE TRIGGER {TABLE}_truncate AFTER TRUNCATE ON {LOG}
        FOR EACH STATEMENT EXECUTE FUNCTION {TABLE}_log()""",
]
POSTGRESQL_BACKWARD = [
    *(f"DROP TRIGGER IF EXISTS {TABLE}_{event} ON {LOG}" for event in (*TRIGGERS, "truncate")),
    f"DROP FUNCTION IF EXISTS {TABLE}_log()",
]


def _run(schema_editor, statements: list[str]) -> None:
    for statement in statements:
        schema_editor.execute(statement, params=None)


def create_triggers(apps, schema_editor) -> None:
    vendor = schema_editor.connection.vendor
    if vendor == "sqlite":
        _run(schema_editor, SQLITE_FORWARD)
    elif vendor == "postgresql":
        _run(schema_editor, POSTGRESQL_FORWARD)
    else:
        raise NotImplementedError(f"{TABLE} has triggers for SQLite and PostgreSQL only, not {vendor}")
    _run(schema_editor, _fill(vendor))


def drop_triggers(apps, schema_editor) -> None:
    vendor = schema_editor.connection.vendor
    _run(schema_editor, SQLITE_BACKWARD if vendor == "sqlite" else POSTGRESQL_BACKWARD)


class Migration(migrations.Migration):
    initial = True

    dependencies = [
        ("review", "0004_log_user_day_time"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name="DayRollup",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                (
                    "user",
                    models.ForeignKey(
                        db_constraint=False,
                        db_index=False,
                        on_delete=models.DO_NOTHING,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
                ("day", models.DateField(help_text="Learner's local study day (the log's reviewed_on).")),
                ("reviews", models.IntegerField(default=0)),
                ("redrills", models.IntegerField(default=0)),
                (
                    "duration_ms",
                    models.BigIntegerField(default=0, help_text="Answer time of the reviews and re-drills."),
                ),
                ("new_cards", models.IntegerField(default=0)),
                ("young", models.IntegerField(default=0)),
                ("young_passed", models.IntegerField(default=0)),
                ("mature", models.IntegerField(default=0)),
                ("mature_passed", models.IntegerField(default=0)),
                *((f"reviews_q{q}", models.IntegerField(default=0)) for q in GRADES),
                *((f"redrills_q{q}", models.IntegerField(default=0)) for q in GRADES),
            ],
            options={
                "db_table": TABLE,
                "constraints": [models.UniqueConstraint(fields=("user", "day"), name="stats_day_rollup_user_day")],
            },
        ),
        migrations.RunPython(create_triggers, drop_triggers),
    ]
