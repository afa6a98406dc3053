"""Querysets compiled to SQL once, then run with new values: for the few lookups every customer
page makes (a link by its token, a company by its slug), where Django's query compilation costs
ten times the query itself (about 0.5 ms of CPU against 0.05 ms for the round trip).

``prepared(lambda token: Model.objects.filter(token_hash=token)...)`` builds the queryset once
with placeholder values, keeps its SQL, the positions of those values among the parameters
and the compiler (which knows the columns, converters and ``select_related`` tree), and on each
call runs that SQL with the real values through the connection's cursor (so query logging and
counting see it as usual) and builds the rows the way ``QuerySet.first()`` would. The result
is the same objects the queryset gives; ``tests/core/test_prepared.py`` compares them.

Only single-row lookups whose values are plain parameters (``exact`` lookups on columns), with
``select_related`` and annotations: anything else keeps using the queryset.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable
from typing import Any

from django.db import connections
from django.db.models import QuerySet
from django.db.models.query import (  # type: ignore[attr-defined]  # Django 6.1 internals
    ValuesListIterable,
    _get_from_db,
    get_related_populators,
)


class _Sentinel(str):
    """A placeholder value no real lookup uses, recognisable among the compiled parameters."""


class Prepared:
    def __init__(self, build: Callable[..., QuerySet], *placeholders: Any) -> None:
        self._build = build
        self._placeholders = placeholders
        self._compiled: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()

    def _compile(self, connection) -> tuple:
        queryset = self._build(*self._placeholders)[:1]
        compiler = queryset.query.get_compiler(connection=connection)
        sql, params = compiler.as_sql()
        positions = []
        for placeholder in self._placeholders:
            found = [i for i, value in enumerate(params) if value == placeholder]
            if len(found) != 1:
                raise ValueError(f"placeholder {placeholder!r} is not one plain parameter")
            positions.append(found[0])
        values_list = queryset._iterable_class is ValuesListIterable
        fetch_mode = queryset._fetch_mode  # type: ignore[attr-defined]
        # What ``compiler.results_iter()`` and ``ModelIterable`` work out again for every row
        # set, done once: the columns' converters (over a hundred columns for a link with its
        # company, customer and documents: a fifth of a cached page's CPU) and the
        # select_related populators (reusable unless the fetch mode tracks peers, which
        # keep a list per populator).
        fields = [s[0] for s in compiler.select[0 : compiler.col_count]]
        if compiler.has_composite_fields(fields):
            raise ValueError("composite fields are not supported")
        converters = list(compiler.get_converters(fields).items())
        build = None
        if not values_list:
            select, klass_info = compiler.select, compiler.klass_info
            select_fields = klass_info["select_fields"]
            start, end = select_fields[0], select_fields[-1] + 1
            names = [column[0].target.attname for column in select[start:end]]
            from_db = _get_from_db(klass_info["model"], fetch_mode)
            populators = None
            if not fetch_mode.track_peers:
                populators = get_related_populators(
                    klass_info, select, connection.alias, fetch_mode
                )
            annotations = list((compiler.annotation_col_map or {}).items())
            build = (start, end, names, from_db, populators, klass_info, select, annotations)
        compiled = (sql, list(params), positions, converters, build, fetch_mode)
        self._compiled[connection] = compiled
        return compiled

    def first(self, *values: Any) -> Any:
        """What ``build(*values).first()`` returns, without compiling the query again."""
        connection = connections["default"]
        compiled = self._compiled.get(connection) or self._compile(connection)
        sql, params, positions, converters, build, fetch_mode = compiled
        params = list(params)
        for position, value in zip(positions, values, strict=True):
            params[position] = value
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            found = cursor.fetchone()
        if found is None:
            return None
        row = list(found)
        for position, (functions, expression) in converters:
            value = row[position]
            for function in functions:
                value = function(value, expression, connection)
            row[position] = value
        if build is None:
            return tuple(row)
        start, end, names, from_db, populators, klass_info, select, annotations = build
        obj = from_db(connection.alias, names, row[start:end])
        if populators is None:
            populators = get_related_populators(klass_info, select, connection.alias, fetch_mode)
        for populator in populators:
            populator.populate(row, obj)
        for name, position in annotations:
            setattr(obj, name, row[position])
        return obj


def prepared(build: Callable[..., QuerySet], *placeholders: Any) -> Prepared:
    """``build(*values)`` compiled once; ``placeholders``: values of the same types as the real
    ones, used nowhere else in the query (default: one string placeholder)."""
    return Prepared(build, *(placeholders or (_Sentinel("\x00prepared-0\x00"),)))
