"""INSERTs of many rows whose values are rendered for the database driver ahead of
time, by the columns' own bind processors, as SQLAlchemy would render them.

The CFDI import renders its rows in the reader process; the process that writes
then only hands them to the driver's executemany, with no work left per row.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from sqlalchemy import Connection, Dialect, Table, insert

Row = list[Any]


class BulkInsert:
    """An INSERT into fixed columns of one table, compiled once for a dialect."""

    def __init__(self, table: Table, columns: Sequence[str], dialect: Dialect) -> None:
        compiled = insert(table).compile(dialect=dialect, column_keys=list(columns))
        self.sql = str(compiled)
        self.positional = compiled.positional
        names = list(compiled.positiontup or ()) if self.positional else []
        names = names or list(compiled.binds)
        if sorted(names) != sorted(columns):
            # A column with a default the INSERT would fill in on its own.
            raise ValueError(f"{table.name}: give every column of the INSERT")
        self.names = names
        self._index = {name: i for i, name in enumerate(names)}
        self._processors: list[tuple[str, Callable[[Any], Any] | None]] = [
            (name, table.c[name].type.dialect_impl(dialect).bind_processor(dialect))
            for name in names
        ]

    def render(self, values: Mapping[str, Any]) -> Row:
        """One row, in the statement's order, as the driver takes it."""
        return [
            values[name] if process is None else process(values[name])
            for name, process in self._processors
        ]

    def put(self, row: Row, name: str, value: Any) -> None:
        """Set one column of a rendered row."""
        index = self._index[name]
        process = self._processors[index][1]
        row[index] = value if process is None else process(value)

    def execute(self, connection: Connection, rows: Sequence[Row]) -> None:
        """INSERT the rows with one executemany."""
        if not rows:
            return
        if self.positional:
            connection.exec_driver_sql(self.sql, [tuple(row) for row in rows])
        else:
            names = self.names
            connection.exec_driver_sql(
                self.sql, [dict(zip(names, row, strict=True)) for row in rows]
            )
