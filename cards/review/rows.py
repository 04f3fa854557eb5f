"""The rows an answer reads and writes, in SQL: the answered state (locked) with its owner's profile,
the state's conditional update, and the new log row. Also: model instances from raw rows.

Why SQL: the ORM builds and compiles every query anew on each request, and for these three that
cost more than running them (the answer took 7.5 ms a step through the ORM, ~2.4 ms of it in
the database). The statements are spelled from the models' _meta (tables, columns) and every
value goes through its field's own conversion (get_db_prep_save, the db converters), so they
follow the models and read and write exactly what the ORM would; tests/review pins the answer's
behaviour on SQLite and PostgreSQL alike.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence

from django.db import DEFAULT_DB_ALIAS, connection, connections, models
from django.db.backends.base.base import BaseDatabaseWrapper

from cards.accounts.models import Profile
from cards.review.models import ReviewLog, ReviewState


@functools.lru_cache(maxsize=64)
def _readers(model: type[models.Model], database: BaseDatabaseWrapper) -> tuple[list[str], list[tuple]]:
    """The model's concrete attribute names, and for each column its (column, converters), as the ORM has them.

    Per connection object (each thread has its own): some converters are its bound methods.
    """
    readers = []
    for field in model._meta.concrete_fields:
        column = field.get_col(model._meta.db_table)
        readers.append((column, database.ops.get_db_converters(column) + field.get_db_converters(database)))
    return [field.attname for field in model._meta.concrete_fields], readers


def from_row(model: type[models.Model], values: Sequence[object]) -> models.Model:
    """A model instance from its concrete fields' raw column values, converted as the ORM converts them."""
    database = connections[DEFAULT_DB_ALIAS]
    names, readers = _readers(model, database)
    converted = []
    for (column, converters), value in zip(readers, values, strict=True):
        for converter in converters:
            value = converter(value, column, database)
        converted.append(value)
    return model.from_db(database.alias, names, converted)


def columns(model: type[models.Model], alias: str) -> str:
    """The model's concrete columns, quoted and prefixed with `alias`, in _meta order (as from_row reads them)."""
    quote = connection.ops.quote_name
    return ", ".join(f"{alias}.{quote(field.column)}" for field in model._meta.concrete_fields)


def _table(model: type[models.Model]) -> str:
    return connection.ops.quote_name(model._meta.db_table)


def _prep(model: type[models.Model], name: str, value: object) -> object:
    """`value` of field `name` as the database takes it (a UUID, a JSON document, a date on SQLite...)."""
    return model._meta.get_field(name).get_db_prep_save(value, connection)


# The state (with a row lock on PostgreSQL), its owner's profile, and whether the request id was seen.
_LOCKED_READ_SQL = """
SELECT {state_columns}, {profile_columns},
    EXISTS (SELECT 1 FROM "cards_reviewlog" l WHERE l.user_id = %s AND l.request_id = %s)
FROM "cards_reviewstate" s LEFT JOIN "cards_profile" p ON p.user_id = s.user_id
WHERE s.id = %s AND s.user_id = %s{lock}
"""


@functools.cache
def _locked_read_sql(vendor: str) -> str:
    # PostgreSQL locks the state's row only (not the profile's); SQLite has no row locks, and there
    # the conditional update (update_state) is the guard, as it is everywhere under a race.
    lock = " FOR UPDATE OF s" if connection.features.has_select_for_update_of else ""
    return _LOCKED_READ_SQL.format(
        state_columns=columns(ReviewState, "s"), profile_columns=columns(Profile, "p"), lock=lock
    )


def locked_state(user_id: int, state_id: int, request_id: object) -> tuple[ReviewState, Profile | None, bool]:
    """The user's state `state_id` (row-locked on PostgreSQL: call inside a transaction), the user's
    profile (None if they have none yet), and whether `request_id` is already in their log.

    Raises ReviewState.DoesNotExist when the state is not this user's.
    """
    params = [user_id, _prep(ReviewLog, "request_id", request_id), state_id, user_id]
    with connection.cursor() as cursor:
        cursor.execute(_locked_read_sql(connection.vendor), params)
        row = cursor.fetchone()
    if row is None:
        raise ReviewState.DoesNotExist(f"No review state {state_id} for user {user_id}.")
    state_width, profile_width = len(ReviewState._meta.concrete_fields), len(Profile._meta.concrete_fields)
    state = from_row(ReviewState, row[:state_width])
    profile_row = row[state_width : state_width + profile_width]
    profile = from_row(Profile, profile_row) if profile_row[0] is not None else None
    return state, profile, bool(row[-1])


@functools.cache
def _update_state_sql(vendor: str, names: tuple[str, ...]) -> str:
    quote = connection.ops.quote_name
    assignments = ", ".join(f"{quote(ReviewState._meta.get_field(name).column)} = %s" for name in names)
    # Names from the models' _meta; every value is a bound parameter.
    return f"UPDATE {_table(ReviewState)} SET {assignments} WHERE id = %s AND user_id = %s AND version = %s"  # noqa: S608


def update_state(state_id: int, user_id: int, version: int, values: dict[str, object]) -> bool:
    """Set `values` (field name -> value) on the user's state if it is still at `version`: did it change?"""
    names = tuple(values)
    params = [_prep(ReviewState, name, values[name]) for name in names] + [state_id, user_id, version]
    with connection.cursor() as cursor:
        cursor.execute(_update_state_sql(connection.vendor, names), params)
        return cursor.rowcount == 1


# Every column of a log row but its id, in _meta order: the insert's columns and its parameters.
_LOG_FIELDS = [field for field in ReviewLog._meta.concrete_fields if not field.primary_key]


@functools.cache
def _insert_log_sql(vendor: str) -> str:
    names = ", ".join(connection.ops.quote_name(field.column) for field in _LOG_FIELDS)
    values = ", ".join(["%s"] * len(_LOG_FIELDS))
    returning = " RETURNING id" if connection.features.can_return_columns_from_insert else ""
    # Names from the models' _meta; every value is a bound parameter.
    return f"INSERT INTO {_table(ReviewLog)} ({names}) VALUES ({values}){returning}"  # noqa: S608


def insert_log(log: ReviewLog) -> ReviewLog:
    """Insert `log` (a new, unsaved row) and return it saved, with its id.

    A repeated (user, request_id) raises django.db.IntegrityError, as save() would.
    """
    params = [field.get_db_prep_save(getattr(log, field.attname), connection) for field in _LOG_FIELDS]
    with connection.cursor() as cursor:
        cursor.execute(_insert_log_sql(connection.vendor), params)
        log.pk = cursor.fetchone()[0] if connection.features.can_return_columns_from_insert else cursor.lastrowid
    log._state.adding = False
    log._state.db = connection.alias
    return log
