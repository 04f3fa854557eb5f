"""Tally: the number of cards, and of each learner's review states, kept by database triggers.

The review page shows how many new cards a learner may still meet today, which needs the
number of cards they have not met: cards minus their states. Counting those tables on every
step grows with the collection; these counts are kept by triggers in the transaction of each
insert or delete, so reading them is a primary-key lookup (cards.review.models.Tally).

SQLite gets row triggers; PostgreSQL statement triggers with transition tables (a bulk insert
updates a count once, not once a row) and a TRUNCATE trigger. The existing rows are counted
once here. Reversible: the triggers, the function and the table go.
"""

from django.db import migrations, models

SQLITE_FORWARD = [
    """CREATE TRIGGER review_tally_card_insert AFTER INSERT ON cards_card BEGIN
        INSERT INTO review_tally (key, value) VALUES ('cards', 1)
        ON CONFLICT (key) DO UPDATE SET value = value + 1;
    END""",
    """CREATE TRIGGER review_tally_card_delete AFTER DELETE ON cards_card BEGIN
        UPDATE review_tally SET value = value - 1 WHERE key = 'cards';
    END""",
    """CREATE TRIGGER review_tally_state_insert AFTER INSERT ON cards_reviewstate BEGIN
        INSERT INTO review_tally (key, value) VALUES ('states:' || NEW.user_id, 1)
        ON CONFLICT (key) DO UPDATE SET value = value + 1;
    END""",
    """CREATE TRIGGER review_tally_state_delete AFTER DELETE ON cards_reviewstate BEGIN
        UPDATE review_tally SET value = value - 1 WHERE key = 'states:' || OLD.user_id;
    END""",
    """CREATE TRIGGER review_tally_state_move AFTER UPDATE OF user_id ON cards_reviewstate
    WHEN NEW.user_id <> OLD.user_id BEGIN
        UPDATE review_tally SET value = value - 1 WHERE key = 'states:' || OLD.user_id;
        INSERT INTO review_tally (key, value) VALUES ('states:' || NEW.user_id, 1)
        ON CONFLICT (key) DO UPDATE SET value = value + 1;
    END""",
]
SQLITE_BACKWARD = [
    f"DROP TRIGGER IF EXISTS review_tally_{name}"
    for name in ("card_insert", "card_delete", "state_insert", "state_delete", "state_move")
]

# One function for both tables and all three operations; the key comes from the table's rows.
POSTGRESQL_FORWARD = [
    """CREATE FUNCTION review_tally_count() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF TG_OP = 'TRUNCATE' THEN
            IF TG_TABLE_NAME = 'cards_card' THEN
                DELETE FROM review_tally WHERE key = 'cards';
            ELSE
                DELETE FROM review_tally WHERE key LIKE 'states:%';
            END IF;
            RETURN NULL;
        END IF;
        IF TG_OP = 'DELETE' THEN
            IF TG_TABLE_NAME = 'cards_card' THEN
                UPDATE review_tally SET value = value - (SELECT count(*) FROM old_rows) WHERE key = 'cards';
            ELSE
                UPDATE review_tally AS t SET value = t.value - gone.n
                FROM (SELECT 'states:' || user_id AS key, count(*) AS n FROM old_rows GROUP BY user_id) AS gone
                WHERE t.key = gone.key;
            END IF;
        END IF;
        IF TG_OP = 'INSERT' THEN
            IF TG_TABLE_NAME = 'cards_card' THEN
                INSERT INTO review_tally AS t (key, value) SELECT 'cards', count(*) FROM new_rows
                ON CONFLICT (key) DO UPDATE SET value = t.value + EXCLUDED.value;
            ELSE
                INSERT INTO review_tally AS t (key, value)
                SELECT 'states:' || user_id, count(*) FROM new_rows GROUP BY user_id
                ON CONFLICT (key) DO UPDATE SET value = t.value + EXCLUDED.value;
            END IF;
        END IF;
        RETURN NULL;
    END
    $$""",
    """CREATE TRIGGER review_tally_card_insert AFTER INSERT ON cards_card
        REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION review_tally_count()""",
    """CREATE TRIGGER review_tally_card_delete AFTER DELETE ON cards_card
        REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION review_tally_count()""",
    """CREATE TRIGGER review_tally_card_truncate AFTER TRUNCATE ON cards_card
        FOR EACH STATEMENT EXECUTE FUNCTION review_tally_count()""",
    """CREATE TRIGGER review_tally_state_insert AFTER INSERT ON cards_reviewstate
        REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION review_tally_count()""",
    """CREATE TRIGGER review_tally_state_delete AFTER DELETE ON cards_reviewstate
        REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION review_tally_count()""",
    # A statement trigger cannot name columns with transition tables: every UPDATE of a state runs it,
    # but it only writes when a state changed hands (never, in this application).
    """CREATE FUNCTION review_tally_move() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF NEW.user_id <> OLD.user_id THEN
            UPDATE review_tally SET value = value - 1 WHERE key = 'states:' || OLD.user_id;
            INSERT INTO review_tally AS t (key, value) VALUES ('states:' || NEW.user_id, 1)
            ON CONFLICT (key) DO UPDATE SET value = t.value + 1;
        END IF;
        RETURN NULL;
    END
    $$""",
    """CREATE TRIGGER review_tally_state_move AFTER UPDATE OF user_id ON cards_reviewstate
        FOR EACH ROW WHEN (NEW.user_id IS DISTINCT FROM OLD.user_id) EXECUTE FUNCTION review_tally_move()""",
    """CREATE TRIGGER review_tally_state_truncate AFTER TRUNCATE ON cards_reviewstate
        FOR EACH STATEMENT EXECUTE FUNCTION review_tally_count()""",
]
POSTGRESQL_BACKWARD = [
    *(
        f"DROP TRIGGER IF EXISTS review_tally_{name} ON {table}"
        for table, names in (
            ("cards_card", ("card_insert", "card_delete", "card_truncate")),
            ("cards_reviewstate", ("state_insert", "state_delete", "state_move", "state_truncate")),
        )
        for name in names
    ),
    "DROP FUNCTION IF EXISTS review_tally_count()",
    "DROP FUNCTION IF EXISTS review_tally_move()",
]

COUNT_EXISTING = [
    "DELETE FROM review_tally",
    "INSERT INTO review_tally (key, value) SELECT 'cards', count(*) FROM cards_card",
    """INSERT INTO review_tally (key, value)
        SELECT 'states:' || user_id, count(*) FROM cards_reviewstate GROUP BY user_id""",
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
        raise NotImplementedError(f"review_tally has triggers for SQLite and PostgreSQL only, not {vendor}")
    _run(schema_editor, COUNT_EXISTING)


def drop_triggers(apps, schema_editor) -> None:
    vendor = schema_editor.connection.vendor
    _run(schema_editor, SQLITE_BACKWARD if vendor == "sqlite" else POSTGRESQL_BACKWARD)


class Migration(migrations.Migration):
    dependencies = [("review", "0002_reviewlog_source")]

    operations = [
        migrations.CreateModel(
            name="Tally",
            fields=[
                ("key", models.CharField(max_length=40, primary_key=True, serialize=False)),
                ("value", models.BigIntegerField(default=0)),
            ],
            options={"db_table": "review_tally"},
        ),
        migrations.RunPython(create_triggers, drop_triggers),
    ]
