"""ORM queries built and compiled once per database connection, then run with new values.

Building a Django query (filters, joins, subqueries) and compiling it to SQL costs far more
than running it against an index: on the shop's two-core machine about 2 ms of Python for
the permission query behind every customer page, against 0.1 ms in SQLite. Shiori asks the
same dozen small queries on every page, so that cost, not encryption, is most of what a page
spends beyond the plaintext baseline.

A prepared query is still written with the ORM, by the same functions the rest of the code
uses (``access.visible_customers`` and the like), so the permission condition has one
definition. It is built once with marker values standing for its parameters and compiled;
each call puts the real values where the markers' prepared forms stood and runs the kept
SQL. Rows become model instances (with their ``select_related`` objects and annotations) or
tuples exactly as Django's own iterables make them, through the same compiler.

Rules for a builder: everything that varies between calls is a declared parameter (no
``timezone.now()`` or database ids read inside), and the SQL's shape must not depend on the
values (no lists of varying length, no None: ``IS NULL`` is another query). With ``VERIFY``
on (the test suite turns it on), every call also builds the query with the ORM and checks
that the SQL and parameters are the same.
"""

import datetime
import uuid
import weakref
from collections.abc import Callable

from django.db import DEFAULT_DB_ALIAS, connections
from django.db.models.query import (
    FlatValuesListIterable,
    ModelIterable,
    ValuesListIterable,
    get_related_populators,
)

VERIFY = False

_UTC = datetime.UTC


def _marker(kind: type, n: int):
    """The ``n``th parameter's stand-in: a value of ``kind`` that no real query holds, ids
    below any real id, a far past. A whole number fits even a small-integer column (the
    ORM drops a comparison with a value its column cannot hold)."""
    if kind is int:
        return -32_000 - n
    if kind is uuid.UUID:
        return uuid.UUID(int=(0x5E1F << 112) + n)
    if kind is datetime.datetime:
        return datetime.datetime(1901, 2, 3, 4, 5, 6, n, tzinfo=_UTC)
    if kind is datetime.date:
        return datetime.date(1901, 1, 1) + datetime.timedelta(days=n)
    if kind is str:
        return f"\x00shiori-prepared-{n}\x00"
    raise TypeError(f"prepared queries take no parameter of type {kind.__name__}")


def _transforms(connection):
    """How the ORM may have turned a value into a query parameter on this database."""
    ops = connection.ops
    return (
        lambda value: value,
        lambda value: value.hex,  # a UUID where the database has no UUID type
        str,
        ops.adapt_datetimefield_value,
        ops.adapt_datefield_value,
    )


def _transform_to(param, marker, connection):
    """The transform that made ``marker`` into ``param``, or None if ``param`` is another
    value."""
    for transform in _transforms(connection):
        try:
            prepared = transform(marker)
        except (AttributeError, TypeError, ValueError):
            continue
        if type(param) is type(prepared) and param == prepared:
            return transform
    # psycopg's sized integers (Int4 for an IntegerField on PostgreSQL) are ints.
    sized = isinstance(param, int) and type(param) not in (int, bool)
    if type(marker) is int and sized and int(param) == marker:
        return type(param)
    return None


class _Compiled:
    """One query compiled on one connection: SQL, parameters, where the markers stand."""

    def __init__(self, queryset, markers: dict, connection):
        self.kind = queryset._iterable_class
        if self.kind not in (ModelIterable, ValuesListIterable, FlatValuesListIterable):
            raise TypeError("prepared queries return model instances or values_list rows")
        if queryset._prefetch_related_lookups or queryset._known_related_objects:
            raise TypeError("prepared queries take no prefetch_related or related manager")
        self.compiler = queryset.query.get_compiler(connection=connection)
        sql, params = self.compiler.as_sql()
        self.sql, self.params = sql, list(params)
        self.slots = self._find(markers, connection)
        compiler = self.compiler
        columns = [s[0] for s in compiler.select[0 : compiler.col_count]]
        if compiler.has_composite_fields(columns):
            raise TypeError("prepared queries take no composite fields")
        self.converters = compiler.get_converters(columns)
        if self.kind is ModelIterable:
            info = compiler.klass_info
            start, end = info["select_fields"][0], info["select_fields"][-1] + 1
            self.model, self.model_slice = info["model"], slice(start, end)
            self.init_list = [f[0].target.attname for f in compiler.select[start:end]]
            self.annotations = list((compiler.annotation_col_map or {}).items())
            self.populators = get_related_populators(info, compiler.select, connection.alias)

    def _find(self, markers: dict, connection) -> list:
        slots = []
        for name, marker in markers.items():
            found = [
                (i, name, transform)
                for i, param in enumerate(self.params)
                if (transform := _transform_to(param, marker, connection)) is not None
            ]
            if not found:
                raise TypeError(f"parameter {name!r} does not reach the query as a parameter")
            slots.extend(found)
        return slots

    def params_for(self, values: dict) -> list:
        params = list(self.params)
        for position, name, transform in self.slots:
            params[position] = transform(values[name])
        return params

    def run(self, values: dict, connection) -> list:
        with connection.cursor() as cursor:
            cursor.execute(self.sql, self.params_for(values))
            rows = cursor.fetchall()
        if self.converters:
            rows = list(self.compiler.apply_converters(rows, self.converters))
        if self.kind is FlatValuesListIterable:
            return [row[0] for row in rows]
        if self.kind is ValuesListIterable:
            return [tuple(row) for row in rows]
        return self._instances(rows, connection.alias)

    def _instances(self, rows, db) -> list:
        from_db, init_list, populators = self.model.from_db, self.init_list, self.populators
        objects = []
        for row in rows:
            obj = from_db(db, init_list, row[self.model_slice])
            for populator in populators:
                populator.populate(row, obj)
            for attr_name, position in self.annotations:
                setattr(obj, attr_name, row[position])
            objects.append(obj)
        return objects


class PreparedQuery:
    """``build(**values)`` returns a QuerySet; ``parameters`` names each value's type."""

    def __init__(self, build: Callable, **parameters: type):
        self.build, self.parameters = build, parameters
        self._compiled: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()

    def _for(self, connection) -> _Compiled:
        compiled = self._compiled.get(connection)
        if compiled is None:
            markers = {
                name: _marker(kind, n)
                for n, (name, kind) in enumerate(self.parameters.items(), start=1)
            }
            compiled = _Compiled(self.build(**markers), markers, connection)
            self._compiled[connection] = compiled
        return compiled

    def __call__(self, *, using: str = DEFAULT_DB_ALIAS, **values) -> list:
        if set(values) != set(self.parameters):
            raise TypeError(f"expected {sorted(self.parameters)}, got {sorted(values)}")
        for name, value in values.items():
            kind = self.parameters[name]
            # A datetime is a date too, but the ORM would make it a different parameter.
            if not isinstance(value, kind) or (kind is datetime.date and type(value) is not kind):
                raise TypeError(f"{name} must be a {self.parameters[name].__name__}")
        connection = connections[using]
        compiled = self._for(connection)
        if VERIFY:
            self.verify(compiled, values, connection)
        return compiled.run(values, connection)

    def verify(self, compiled: _Compiled, values: dict, connection) -> None:
        """The kept SQL with these values is what the ORM builds for them, each parameter
        of the same type (the database types a parameter by it)."""
        sql, params = self.build(**values).query.get_compiler(connection=connection).as_sql()
        fresh = (sql, list(params), [type(p) for p in params])
        kept_params = compiled.params_for(values)
        kept = (compiled.sql, kept_params, [type(p) for p in kept_params])
        if fresh != kept:
            raise AssertionError(
                f"prepared query differs from the ORM's:\n{kept}\nagainst\n{fresh}"
            )


def prepared(**parameters: type) -> Callable[[Callable], PreparedQuery]:
    """Decorator: ``@prepared(user_id=int, pk=uuid.UUID)`` over a function that builds the
    QuerySet from those values."""

    def wrap(build: Callable) -> PreparedQuery:
        query = PreparedQuery(build, **parameters)
        query.__doc__, query.__name__ = build.__doc__, build.__name__
        return query

    return wrap
