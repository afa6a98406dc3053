"""Querysets compiled to SQL once, then run with new values: for the lookups every customer
page makes (a link by its token, a company by its slug) and the reads every dashboard page
makes (the signed-in member, the home's figures and lists), where Django's query compilation
costs ten times the query itself (about 0.5 ms of CPU against 0.05 ms for the round trip).

``prepared(lambda token: Model.objects.filter(token_hash=token)...)`` builds the queryset once
with placeholder values, keeps its SQL, the positions of those values among the parameters
and the compiler (which knows the columns, converters and ``select_related`` tree), and on each
call runs that SQL with the real values through the connection's cursor (so query logging and
counting see it as usual) and builds the rows the way the queryset would: ``first()`` what
``QuerySet.first()`` gives, ``all()`` the list the queryset gives (model instances with their
``select_related`` rows and annotations, ``values()`` dicts or ``values_list()`` tuples). The
results are the same objects the queryset gives; ``tests/core/test_prepared.py`` compares them.

Only values that are plain parameters (``exact``, ``gte``, ``lt``… lookups on columns; a date
or datetime is adapted for the database the same way Django adapts it; a value may be used
several times): anything else keeps using the queryset. A placeholder must be a value the
query holds nowhere else (``-7_000_000_001``, a date in the year 1001). ``one_row`` turns an
``aggregate()`` into a queryset of one row, so it can be prepared too. ``prefetch_related`` is not carried over (prefetch after, on the list).
The compiled SQL is kept per connection and per active time zone (a time zone can be part of
the SQL: date truncation of a datetime column).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import re
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.db import connections
from django.db.models import IntegerField, QuerySet, Value
from django.db.models.query import (  # type: ignore[attr-defined]  # Django 6.1 internals
    ModelIterable,
    ValuesIterable,
    ValuesListIterable,
    _get_from_db,
    get_related_populators,
)
from django.utils import timezone


class _Sentinel(str):
    """A placeholder value no real lookup uses, recognisable among the compiled parameters."""


def _identity(value: Any) -> Any:
    return value


def _adapters(connection, placeholder: Any) -> list[Callable[[Any], Any]]:
    """How a value of the placeholder's type can appear among the compiled parameters: as it
    is, or adapted for the database (SQLite stores dates and datetimes as text)."""
    ops = connection.ops
    if isinstance(placeholder, dt.datetime):
        return [_identity, ops.adapt_datetimefield_value]
    if isinstance(placeholder, dt.date):
        return [_identity, ops.adapt_datefield_value]
    return [_identity]


logger = logging.getLogger(__name__)


@dataclass
class _Compiled:
    """A query compiled once, with everything its rows are built from (Django 6.1 internals:
    what ``ModelIterable``, ``ValuesIterable`` and ``ValuesListIterable`` compute per call)."""

    sql: str
    params: list
    bindings: list[tuple[tuple[int, Callable[[Any], Any]], ...]]
    compiler: Any
    iterable: type
    names: list[str]
    converters: dict
    columns: list
    composite: bool
    fetch_mode: Any
    # Model rows only: the model's columns, how to build it, its select_related rows and
    # annotations.
    span: tuple[int, int] = (0, 0)
    attnames: list[str] = field(default_factory=list)
    from_db: Callable[..., Any] | None = None
    populators: list = field(default_factory=list)
    annotations: list[tuple[str, int]] = field(default_factory=list)
    # PostgreSQL, ``server=True``: the statement's name, its ``PREPARE`` and its ``EXECUTE``
    # (``None`` after a ``PREPARE`` failed: plain execution from then on).
    server: tuple[str, str, str] | None = None


# The statements prepared on each PostgreSQL connection (the psycopg connection: a pooled one
# keeps its session, and with it its prepared statements, between requests).
_ON_SERVER: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _server_statement(sql: str, count: int) -> tuple[str, str, str]:
    """``PREPARE name AS …`` and ``EXECUTE name(…)`` for Django's ``%s``-style SQL: each
    ``%s`` becomes ``$1``, ``$2``… in order and ``%%`` a ``%``."""
    parts = re.split(r"(%%|%s)", sql)
    number = 0
    out = []
    for part in parts:
        if part == "%s":
            number += 1
            out.append(f"${number}")
        elif part == "%%":
            out.append("%")
        else:
            out.append(part)
    if number != count:
        raise ValueError("the statement's parameters could not be numbered")
    name = "cc_" + hashlib.sha256(sql.encode()).hexdigest()[:24]
    # The PREPARE is sent without parameters, so psycopg passes it on as it is.
    prepare = f"PREPARE {name} AS " + "".join(out)
    execute = f"EXECUTE {name}" + (f"({', '.join(['%s'] * count)})" if count else "")
    return name, prepare, execute


class Prepared:
    def __init__(
        self, build: Callable[..., QuerySet], *placeholders: Any, server: bool = False
    ) -> None:
        self._build = build
        self._placeholders = placeholders
        self._server = server
        self._compiled: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()

    def _compile(self, connection, many: bool) -> _Compiled:
        queryset = self._build(*self._placeholders)
        if queryset._prefetch_related_lookups:  # type: ignore[attr-defined]
            raise ValueError("prefetch_related is not carried over: prefetch on the list")
        if not many:
            queryset = queryset[:1]
        compiler = queryset.query.get_compiler(connection=connection)
        sql, params = compiler.as_sql()
        bindings = []
        for placeholder in self._placeholders:
            found: dict[int, Callable[[Any], Any]] = {}
            for adapt in _adapters(connection, placeholder):
                adapted = adapt(placeholder)
                for i, value in enumerate(params):
                    if value == adapted and not isinstance(value, bool):
                        found.setdefault(i, adapt)
            if not found:
                raise ValueError(f"placeholder {placeholder!r} is not a plain parameter")
            bindings.append(tuple(found.items()))
        iterable = queryset._iterable_class
        if iterable not in (ModelIterable, ValuesIterable, ValuesListIterable):
            raise ValueError(f"{iterable.__name__} rows are not supported")
        query = queryset.query
        names = (
            list(query.selected)
            if query.selected
            else [*query.extra_select, *query.values_select, *query.annotation_select]
        )
        columns = [s[0] for s in compiler.select[0 : compiler.col_count]]
        fetch_mode = queryset._fetch_mode  # type: ignore[attr-defined]
        compiled = _Compiled(
            sql=sql,
            params=list(params),
            bindings=bindings,
            compiler=compiler,
            iterable=iterable,
            names=names,
            converters=compiler.get_converters(columns),
            columns=columns,
            composite=compiler.has_composite_fields(columns),
            fetch_mode=fetch_mode,
        )
        if iterable is ModelIterable:
            select, klass_info = compiler.select, compiler.klass_info
            fields = klass_info["select_fields"]
            compiled.span = (fields[0], fields[-1] + 1)
            compiled.attnames = [
                column[0].target.attname for column in select[compiled.span[0] : compiled.span[1]]
            ]
            compiled.from_db = _get_from_db(klass_info["model"], fetch_mode)
            compiled.populators = get_related_populators(
                klass_info, select, connection.alias, fetch_mode
            )
            compiled.annotations = list(compiler.annotation_col_map.items())
        if self._server and connection.vendor == "postgresql":
            compiled.server = _server_statement(sql, len(params))
        key = (many, timezone.get_current_timezone_name())
        self._compiled.setdefault(connection, {})[key] = compiled
        return compiled

    def _run(self, values: tuple, many: bool) -> tuple[list, _Compiled, Any]:
        connection = connections["default"]
        per_connection = self._compiled.get(connection) or {}
        compiled = per_connection.get(
            (many, timezone.get_current_timezone_name())
        ) or self._compile(connection, many)
        params = list(compiled.params)
        for places, value in zip(compiled.bindings, values, strict=True):
            for position, adapt in places:
                params[position] = adapt(value)
        with connection.cursor() as cursor:
            if compiled.server is not None:
                _execute_on_server(connection, cursor, compiled, params)
            else:
                cursor.execute(compiled.sql, params)
            rows = cursor.fetchall() if many else cursor.fetchmany(1)
        return rows, compiled, connection

    def first(self, *values: Any) -> Any:
        """What ``build(*values).first()`` returns, without compiling the query again."""
        rows, compiled, connection = self._run(values, many=False)
        built = _build_rows(rows, compiled, connection)
        return built[0] if built else None

    def all(self, *values: Any) -> list:
        """What ``list(build(*values))`` returns, without compiling the query again."""
        rows, compiled, connection = self._run(values, many=True)
        return _build_rows(rows, compiled, connection)


def _execute_on_server(connection, cursor, compiled: _Compiled, params: list) -> None:
    """Run the statement as a server-side prepared statement: PostgreSQL parses and plans it
    once per connection instead of on every call (the portal link's query plans for ~7 ms and
    runs in ~0.6). Django binds on the client, so this is SQL ``PREPARE``/``EXECUTE``.

    A ``PREPARE`` PostgreSQL refuses (a parameter whose type it can't infer) turns this off for
    the statement; inside a transaction it is tried under a savepoint, so the refusal costs
    nothing else."""
    import psycopg as Database

    assert compiled.server is not None
    name, prepare, execute = compiled.server
    raw = connection.connection
    done = _ON_SERVER.get(raw)
    if done is None:
        done = _ON_SERVER[raw] = set()
    if name not in done:
        # On psycopg's own connection: bookkeeping, not one of the request's queries (query
        # counts and logs see the EXECUTE, whether or not this connection had prepared it yet).
        # Inside a transaction psycopg wraps it in a savepoint, so a refusal spoils nothing.
        try:
            with raw.transaction():
                raw.execute(prepare)
        except Database.Error as error:
            if "already exists" not in str(error):
                logger.warning("prepared statement refused, run plainly: %s", error)
                compiled.server = None
                cursor.execute(compiled.sql, params)
                return
        done.add(name)
    cursor.execute(execute, params)


def _build_rows(rows: list, compiled: _Compiled, connection) -> list:
    """The rows as the queryset's iterable builds them (``ModelIterable``, ``ValuesIterable``,
    ``ValuesListIterable`` in Django 6.1), converters applied."""
    if not rows:
        return []
    compiler = compiled.compiler
    converted: Any = rows
    if compiled.converters:
        converted = compiler.apply_converters(converted, compiled.converters)
    if compiled.composite:
        converted = compiler.composite_fields_to_tuples(converted, compiled.columns)
    if compiled.iterable is ValuesListIterable:
        return [tuple(row) for row in converted]
    if compiled.iterable is ValuesIterable:
        return [dict(zip(compiled.names, row, strict=True)) for row in converted]
    start, end = compiled.span
    from_db, alias, attnames = compiled.from_db, connection.alias, compiled.attnames
    assert from_db is not None
    track_peers = compiled.fetch_mode.track_peers
    built: list = []
    peers: list = []
    # The select_related populators are reused between calls, unless the fetch mode tracks
    # peers: then each keeps a list of this row set's peers, so a row set gets its own.
    populators = compiled.populators
    if track_peers:
        populators = get_related_populators(
            compiler.klass_info, compiler.select, alias, compiled.fetch_mode
        )
    for row in converted:
        obj = from_db(alias, attnames, row[start:end])
        if track_peers:
            peers.append(weakref.ref(obj))
            obj._state.peers = peers
        for populator in populators:
            populator.populate(row, obj)
        for name, position in compiled.annotations:
            setattr(obj, name, row[position])
        built.append(obj)
    return built


def attach_prefetched(instance: Any, name: str, rows: list) -> None:
    """Give ``instance`` the rows of its relation ``name`` as ``prefetch_related`` would, so
    ``instance.<name>.all()`` answers from them without a query: for rows read by a prepared
    query, since a prepared query carries no ``prefetch_related``. The caller owns the rule
    that ``rows`` are exactly that relation's rows, in its order."""
    related = getattr(type(instance), name).rel.related_model
    cached: QuerySet = QuerySet(model=related)
    cached._result_cache = list(rows)
    cached._prefetch_done = True  # type: ignore[attr-defined]
    if not hasattr(instance, "_prefetched_objects_cache"):
        instance._prefetched_objects_cache = {}
    instance._prefetched_objects_cache[name] = cached


def one_row(queryset: QuerySet, **aggregates: Any) -> QuerySet:
    """What ``queryset.aggregate(**aggregates)`` computes, as a queryset of one ``values()``
    row: grouped by a constant, so without ``GROUP BY`` (one row even when nothing matches,
    as ``aggregate()``), and without the model's default ordering."""
    return (
        queryset.order_by()
        .annotate(_one_row=Value(1, output_field=IntegerField()))
        .values("_one_row")
        .annotate(**aggregates)
        .values(*aggregates)
    )


def prepared(build: Callable[..., QuerySet], *placeholders: Any, server: bool = False) -> Prepared:
    """``build(*values)`` compiled once; ``placeholders``: values of the same types as the real
    ones, used nowhere else in the query (default: one string placeholder). ``server``: on
    PostgreSQL, also prepared on the server (parsed and planned once per connection): for a
    large, hot statement whose planning costs more than its run."""
    return Prepared(build, *(placeholders or (_Sentinel("\x00prepared-0\x00"),)), server=server)
