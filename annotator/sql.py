"""Hand-written statements of the labelling loop, and model instances from their rows.

The labelling loop (next item, submit) runs a dozen fixed statements on
every request. Building them through the ORM cost more CPU than running
them, and PostgreSQL spent more time parsing and planning them than
executing them. So the hot paths write their SQL once, run it here as
prepared statements of the connection (parsed and planned once per
connection; connections persist, CONN_MAX_AGE), and turn rows back into
model instances. Column lists come from the models, so a new field is
picked up without touching the SQL. Everything else uses the ORM.

Prepared statements need a session of their own: behind a pooler in
transaction mode (PgBouncer), set DB_PREPARED_STATEMENTS=0.

Every statement here has an ORM twin in annotator/loop_orm.py, which the
services call instead when LABELLING_LOOP_SQL is off (`hand_written()`):
the benchmark's ORM row measures what this module buys, and the tests
check both give the same claims, votes and gold.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import datetime
from functools import cache
from typing import Any

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connection, connections, models


def hand_written() -> bool:
    """Whether the labelling loop runs the statements of this module (the
    default) or their ORM versions (settings.LABELLING_LOOP_SQL off)."""
    return settings.LABELLING_LOOP_SQL


def execute(query: str, params: Sequence[Any] = ()) -> int:
    """Run a statement; returns the number of rows it changed."""
    return _run(query, params, lambda cursor: cursor.rowcount)


def fetchone(query: str, params: Sequence[Any] = ()) -> tuple | None:
    return _run(query, params, lambda cursor: cursor.fetchone())


def fetchall(query: str, params: Sequence[Any] = (), *, prepare: bool = True) -> list[tuple]:
    """prepare=False plans the statement for its parameters on every run:
    for a statement whose best plan depends on the project's size (the one
    generic plan of a prepared statement guesses it from the average)."""
    return _run(query, params, lambda cursor: cursor.fetchall(), prepare=prepare)


def _run(query: str, params: Sequence[Any], read, *, prepare: bool = True):
    """`query` uses %s placeholders, as everywhere in Django. On PostgreSQL
    it runs as a prepared statement with server-side parameters; elsewhere
    (or unprepared) through Django's cursor. Errors are Django's
    (IntegrityError, ...), and the statement is logged where Django logs
    queries (DEBUG, tests)."""
    db = connections[DEFAULT_DB_ALIAS]  # the thread's connection, looked up once
    if db.vendor != "postgresql" or not settings.DB_PREPARED_STATEMENTS or not prepare:
        with db.cursor() as cursor:
            cursor.execute(query, params)
            return read(cursor)
    db.ensure_connection()
    start = time.monotonic()
    with db.wrap_database_errors:
        cursor = _cursor(db)
        cursor.execute(query, params, prepare=True)
        result = read(cursor)
    if db.queries_logged:
        db.queries_log.append({"sql": f"{query} -- {list(params)!r}", "time": f"{time.monotonic() - start:.3f}"})
    return result


def _cursor(db):
    """One server-side-binding cursor per psycopg connection, reused."""
    import psycopg

    raw = db.connection
    cursor = getattr(db, "_prepared_cursor", None)
    if cursor is None or cursor.connection is not raw or cursor.closed:
        cursor = db._prepared_cursor = psycopg.Cursor(raw)
    return cursor


@cache
def _fields(model: type[models.Model]) -> tuple[tuple[str, str], ...]:
    """(attribute name, column) of the model's concrete fields, in order."""
    return tuple((f.attname, f.column) for f in model._meta.concrete_fields)


def columns(model: type[models.Model], alias: str) -> str:
    """`alias.col1, alias.col2, ...` for every concrete field of `model`."""
    return ", ".join(f'{alias}."{column}"' for _, column in _fields(model))


def width(model: type[models.Model]) -> int:
    return len(_fields(model))


def from_row(model: type[models.Model], row: Sequence[Any], start: int = 0):
    """The instance stored in row[start : start + width(model)], as the ORM
    would load it (converters applied), or None when its primary key is NULL
    (the missing side of a LEFT JOIN)."""
    fields = _fields(model)
    values = list(row[start : start + len(fields)])
    if values[0] is None:
        return None
    for i, convert in _converters(model, connection.vendor):
        values[i] = convert(values[i])
    return model.from_db(connection.alias, [name for name, _ in fields], values)


@cache
def _converters(model: type[models.Model], vendor: str) -> list[tuple[int, Any]]:
    """Per-column converters the backend applies to loaded values (JSON
    decoding, SQLite datetimes and booleans, UUIDs); none for plain columns."""
    found = []
    for i, field in enumerate(model._meta.concrete_fields):
        expression = field.get_col(model._meta.db_table)
        fns = connection.ops.get_db_converters(expression) + expression.get_db_converters(connection)
        if fns:
            found.append((i, _chain(fns, expression)))
    return found


def _chain(fns, expression):
    def convert(value):
        for fn in fns:
            value = fn(value, expression, connection)
        return value

    return convert


def dt(value: datetime):
    """A datetime as a raw query parameter (SQLite stores naive UTC text)."""
    return connection.ops.adapt_datetimefield_value(value)


def prep(instance: models.Model, column: str):
    """A field's value as a raw query parameter, as the ORM would save it
    (JSON, UUIDs, datetimes on SQLite). A foreign key is named by its column."""
    field = instance._meta.get_field(column)
    return field.get_db_prep_save(getattr(instance, field.attname), connection)
