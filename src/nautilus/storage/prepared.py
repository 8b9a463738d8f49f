"""Hot-path SQL through the DBAPI cursor: a Core statement compiled once, bound as SQLAlchemy would bind it.

A :class:`Prepared` compiles its statement once for the engine's dialect and keeps the SQL string, the
order (positional paramstyles) or names (named ones) of its bind parameters, and each bind's type
processor, so DateTime (a string on SQLite), JSON (serialised), Boolean, ... reach the driver exactly as
through ``Connection.execute``, without SQLAlchemy's per-execute work. Run it on the cursor of
:meth:`nautilus.storage.db.Database.raw_transaction`; DBAPI errors surface as SQLAlchemy's exception
classes (``IntegrityError``, ``OperationalError``, ...), with ``connection_invalidated`` set when the
connection was lost.

The SQL drivers cache the prepared form of a statement per connection (sqlite3's statement cache;
psycopg prepares server-side after a few executions), so reusing one SQL string is what makes it
"prepared". Python-side column defaults are not evaluated: pass every column that has a callable default
(a scalar default fills a missing value, as SQLAlchemy does); a missing required value is an error.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Final

from sqlalchemy import Engine
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DBAPIError

from nautilus.core.errors import NautilusError

if TYPE_CHECKING:
    from nautilus.storage.db import Database

_REQUIRED: Final = object()  # a bind with no fallback value: its key must be in the parameters


class PreparedError(NautilusError):
    """A prepared statement used wrongly (a programming error, never the user's input): ``field`` names the
    bind parameter or the statement feature at fault."""


def dbapi_error(dialect: Dialect, exc: BaseException, statement: str | None, params: Any, connection: Any,
                hide_parameters: bool = False) -> BaseException:
    """``exc`` (raised by the driver or while binding) as SQLAlchemy's exception for it, as ``Connection`` raises
    it: a DBAPI error becomes its :class:`sqlalchemy.exc.DBAPIError` subclass with ``connection_invalidated``
    set when the dialect sees a lost connection; another error with a statement becomes a ``StatementError``."""
    base = dialect.loaded_dbapi.Error
    lost = isinstance(exc, base) and bool(dialect.is_disconnect(exc, connection, None))
    return DBAPIError.instance(statement, params, exc, base, hide_parameters=hide_parameters,
                               connection_invalidated=lost, dialect=dialect)


class Prepared:
    """A Core ``insert``/``update``/upsert/``select`` (``.returning()`` included) run on a DBAPI cursor.

    ``columns`` lists the columns an INSERT or UPDATE built without ``.values()`` sets (what SQLAlchemy takes
    from the first parameter set's keys); a statement with explicit ``bindparam()`` values needs none.
    Compiled on first use (the dialect knows its server then), once.
    """

    __slots__ = ("statement", "columns", "_engine", "_dialect", "sql", "positional", "_plan", "_sequence",
                 "_results", "_hide")

    def __init__(self, statement: Any, database: Database | Engine, columns: Sequence[str] | None = None) -> None:
        self.statement = statement
        self.columns = tuple(columns) if columns is not None else None
        self._engine: Engine = database if isinstance(database, Engine) else database.engine
        self._dialect: Dialect | None = None
        self.sql = ""
        self.positional = False
        self._plan: tuple[tuple[str, str, Any, Any], ...] = ()  # (key, driver name, bind processor, fallback)
        self._sequence: Any = tuple
        self._results: list[tuple[str, Any]] | None = None
        self._hide = False

    def _compile(self) -> Dialect:
        dialect = self._engine.dialect
        # for_executemany: no implicit RETURNING of the primary key (ask for one with .returning()).
        compiled: Any = self.statement.compile(dialect=dialect, column_keys=self.columns, for_executemany=True)
        defaults = {c.key: c.default for c in (*compiled.insert_prefetch, *compiled.update_prefetch)}
        escaped = compiled.escaped_bind_names
        binds: dict[str, tuple[str, str, Any, Any]] = {}
        for bp, name in compiled.bind_names.items():
            if bp.expanding or bp.literal_execute:
                raise PreparedError(f"bind parameter {bp.key!r} expands at execution time; a prepared statement "
                                    "cannot hold it", field=bp.key)
            if bp.required:
                fallback = _REQUIRED
            elif name in defaults:  # a Python-side column default SQLAlchemy would evaluate per execution
                default = defaults[name]
                fallback = default.arg if default is not None and default.is_scalar else _REQUIRED
            else:
                fallback = bp.effective_value
            processor = bp.type.dialect_impl(dialect).bind_processor(dialect)
            binds[name] = (bp.key, escaped.get(name, name), processor, fallback)
        if compiled.positional:
            self._plan = tuple(binds[name] for name in compiled.positiontup)
        else:
            self._plan = tuple(binds.values())
        self.sql = compiled.string
        self.positional = bool(compiled.positional)
        self._sequence = dialect.execute_sequence_format
        self._hide = self._engine.hide_parameters
        self._dialect = dialect
        return dialect

    def _missing(self, key: str, fallback: Any) -> Any:
        if fallback is _REQUIRED:
            raise PreparedError(f"no value for bind parameter {key!r} of {self.sql or self.statement}", field=key)
        return fallback

    def parameters(self, params: Mapping[str, Any]) -> Any:
        """The driver's parameters (a sequence or a dict, processed) for one set of ``params``."""
        if self._dialect is None:
            self._compile()
        missing = self._missing
        if self.positional:
            values = []
            for key, _name, processor, fallback in self._plan:
                try:
                    value = params[key]
                except KeyError:
                    value = missing(key, fallback)
                values.append(value if processor is None else processor(value))
            return self._sequence(values)
        named = {}
        for key, name, processor, fallback in self._plan:
            try:
                value = params[key]
            except KeyError:
                value = missing(key, fallback)
            named[name] = value if processor is None else processor(value)
        return named

    def execute(self, cursor: Any, params: Mapping[str, Any]) -> Any:
        """Run the statement once on ``cursor`` (a DBAPI cursor); returns the cursor (fetch with :meth:`rows`)."""
        if self._dialect is None:
            self._compile()
        try:
            bound = self.parameters(params)
        except PreparedError:
            raise
        except Exception as exc:  # a bind processor refused a value (e.g. a naive datetime): as Connection does
            raise self._error(exc, params, cursor) from exc
        try:
            cursor.execute(self.sql, bound)
        except Exception as exc:
            raise self._error(exc, bound, cursor) from exc
        return cursor

    def executemany(self, cursor: Any, rows: Sequence[Mapping[str, Any]]) -> Any:
        """Run the statement once per row of ``rows`` (nothing when empty; one row is a plain execute, as
        ``Connection.execute`` does it: psycopg's executemany would pipeline even one row); returns the cursor."""
        if len(rows) < 2:
            return self.execute(cursor, rows[0]) if rows else cursor
        if self._dialect is None:
            self._compile()
        try:
            bound = [self.parameters(row) for row in rows]
        except PreparedError:
            raise
        except Exception as exc:
            raise self._error(exc, list(rows), cursor) from exc
        try:
            cursor.executemany(self.sql, bound)
        except Exception as exc:
            raise self._error(exc, bound, cursor) from exc
        return cursor

    def _error(self, exc: Exception, params: Any, cursor: Any) -> BaseException:
        assert self._dialect is not None
        return dbapi_error(self._dialect, exc, self.sql, params, getattr(cursor, "connection", None), self._hide)

    def rows(self, cursor: Any) -> list[dict[str, Any]]:
        """The result rows (of RETURNING or a SELECT) just executed on ``cursor``, by column key, each value
        converted as SQLAlchemy converts results (aware datetimes, decoded JSON, bools)."""
        fetched = cursor.fetchall()
        results = self._results
        if results is None:
            results = self._results = self._result_plan(cursor.description)
        return [{key: value if processor is None else processor(value)
                 for (key, processor), value in zip(results, row, strict=True)} for row in fetched]

    def scalar(self, cursor: Any) -> Any:
        """The first column of the only result row (e.g. the id of ``INSERT ... RETURNING id``)."""
        rows = self.rows(cursor)
        if len(rows) != 1:
            raise PreparedError(f"expected one row, got {len(rows)}: {self.sql}", field="rows")
        return next(iter(rows[0].values()))

    def _result_plan(self, description: Any) -> list[tuple[str, Any]]:
        assert self._dialect is not None
        dialect = self._dialect
        columns = list(self.statement.exported_columns)
        if description is None or len(description) != len(columns):
            raise PreparedError(f"the statement returns no rows to read: {self.sql}", field="rows")
        return [(c.key, c.type.dialect_impl(dialect).result_processor(dialect, d[1]))
                for c, d in zip(columns, description, strict=True)]
