"""Reading the PBX's CEL table (read-only, SQLAlchemy Core) into :class:`CelRow` s.

Asterisk's CEL backends name their columns differently: ``cel_sqlite3_custom``
(``dialplan/cel_sqlite3_custom.conf``: ``cidnum``, ``channame``, ``eventextra``,
``eventtime`` as ``<seconds>.<microseconds>`` text) and ``cel_pgsql`` / ``cel_odbc``
(``cid_num``, ``channame``, ``extra``, ``eventtime`` a timestamp column). The
table is reflected once and each field is looked up under its known names.
"""

from __future__ import annotations

import sqlite3
from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from sqlalchemy import Column, Engine, Float, MetaData, Table, cast, create_engine, select
from sqlalchemy.engine import make_url
from sqlalchemy.exc import NoSuchTableError

from callagent.db.session import normalise_url
from callagent.reconcile.cel import CelRow, parse_eventtime, parse_extra

# field of CelRow -> the column names backends give it (lower case)
_COLUMNS: dict[str, tuple[str, ...]] = {
    "eventtype": ("eventtype",),
    "eventtime": ("eventtime",),
    "channel": ("channame", "channel"),
    "uniqueid": ("uniqueid",),
    "linkedid": ("linkedid",),
    "cid_num": ("cidnum", "cid_num"),
    "cid_name": ("cidname", "cid_name"),
    "exten": ("exten",),
    "context": ("context",),
    "appname": ("appname",),
    "appdata": ("appdata",),
    "peer": ("peer",),
    "userdeftype": ("userdeftype",),
    "extra": ("eventextra", "extra"),
    "seq": ("acctid", "id"),
}
_REQUIRED = ("eventtype", "eventtime", "channel", "uniqueid", "linkedid")
_CHUNK = 400


class CelConfigError(RuntimeError):
    """The CEL store cannot be read as configured (no table, a column missing)."""


def _read_only_engine(url: str) -> Engine:
    parsed = make_url(normalise_url(url))
    if parsed.drivername.startswith("sqlite"):
        path = parsed.database or ""
        if not path or path == ":memory:":
            raise CelConfigError(f"CALLAGENT_CEL_URL {url!r} names no SQLite file")

        def connect() -> sqlite3.Connection:
            # mode=ro: callagent never writes to Asterisk's file, nor creates it
            uri = f"file:{quote(path)}?mode=ro"
            return sqlite3.connect(uri, uri=True, check_same_thread=False)

        return create_engine("sqlite://", creator=connect)
    engine = create_engine(parsed, pool_pre_ping=True)
    if parsed.get_backend_name() == "postgresql":
        return engine.execution_options(postgresql_readonly=True)
    return engine


class CelSource:
    """One CEL table: the calls that had events since a moment, and their rows."""

    def __init__(self, url: str, table: str = "cel") -> None:
        self.url = url
        self.table_name = table
        self.engine = _read_only_engine(url)
        self._table: Table | None = None
        self._columns: dict[str, Column[Any]] = {}

    def where(self) -> str:
        """The store for log lines (no password)."""
        return f"{self.engine.url.render_as_string(hide_password=True)} table {self.table_name}"

    def _reflect(self) -> Table:
        if self._table is not None:
            return self._table
        try:
            table = Table(self.table_name, MetaData(), autoload_with=self.engine)
        except NoSuchTableError as exc:
            raise CelConfigError(
                f"the CEL store {self.where()} has no such table: has Asterisk written to it "
                "yet (cel.conf enable = yes, the backend module loaded)?"
            ) from exc
        by_name = {column.name.lower(): column for column in table.columns}
        columns: dict[str, Column[Any]] = {}
        for field, names in _COLUMNS.items():
            for name in names:
                if name in by_name:
                    columns[field] = by_name[name]
                    break
        missing = [f for f in _REQUIRED if f not in columns]
        if missing:
            raise CelConfigError(
                f"the CEL table {self.where()} lacks the column(s) "
                + ", ".join(_COLUMNS[f][0] for f in missing)
                + " (see dialplan/cel_sqlite3_custom.conf: linkedid must be mapped)"
            )
        self._table, self._columns = table, columns
        return table

    def _since_clause(self, since: float) -> Any:
        """``eventtime >= since`` in the way the store keeps its times."""
        table = self._reflect()
        column = self._columns["eventtime"]
        order = self._columns.get("seq", column)
        with self.engine.connect() as conn:
            sample = conn.execute(select(column).select_from(table).order_by(order.desc()).limit(1))
            value = sample.scalar()
        if value is None:
            return None
        if isinstance(value, datetime):
            moment = datetime.fromtimestamp(since, UTC)
            return column >= (moment if value.tzinfo is not None else moment.replace(tzinfo=None))
        if isinstance(value, int | float) or _numeric(value):
            return cast(column, Float) >= since
        # text such as "2026-12-03 19:02:19" (cel.conf dateformat = %F %T, UTC): it sorts
        return column >= datetime.fromtimestamp(since, UTC).strftime("%Y-%m-%d %H:%M:%S")

    def rows_since(self, since: float) -> dict[str, list[CelRow]]:
        """The rows of every call with a CEL event at or after ``since`` (epoch seconds),
        grouped by linkedid; a call that began before ``since`` comes with all its rows."""
        clause = self._since_clause(since)
        if clause is None:
            return {}
        found = self._select(clause)
        begun_before = [
            linkedid
            for linkedid, rows in found.items()
            if not any(r.eventtype == "CHAN_START" and r.uniqueid == linkedid for r in rows)
        ]
        if begun_before:
            found.update(self.rows_for(begun_before))
        return found

    def rows_for(self, linkedids: Iterable[str]) -> dict[str, list[CelRow]]:
        """The CEL rows of each of ``linkedids`` (those with none are left out)."""
        self._reflect()
        wanted: Sequence[str] = sorted(set(linkedids))
        out: dict[str, list[CelRow]] = {}
        for start in range(0, len(wanted), _CHUNK):
            chunk = wanted[start : start + _CHUNK]
            out.update(self._select(self._columns["linkedid"].in_(chunk)))
        return out

    def _select(self, clause: Any) -> dict[str, list[CelRow]]:
        fields = list(self._columns)
        query = select(*(self._columns[f] for f in fields)).where(clause)
        out: dict[str, list[CelRow]] = defaultdict(list)
        with self.engine.connect() as conn:
            for values in conn.execute(query):
                row = _row(dict(zip(fields, values, strict=True)))
                if row is not None:
                    out[row.linkedid].append(row)
        return dict(out)

    def dispose(self) -> None:
        """Close the store's connections."""
        self.engine.dispose()


def _numeric(value: Any) -> bool:
    try:
        float(str(value))
    except ValueError:
        return False
    return True


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def _row(values: dict[str, Any]) -> CelRow | None:
    at = parse_eventtime(values.get("eventtime"))
    if at is None:
        return None
    seq = values.get("seq")
    return CelRow(
        eventtype=_text(values.get("eventtype")),
        eventtime=at,
        channel=_text(values.get("channel")),
        uniqueid=_text(values.get("uniqueid")),
        linkedid=_text(values.get("linkedid")),
        cid_num=_text(values.get("cid_num")),
        cid_name=_text(values.get("cid_name")),
        exten=_text(values.get("exten")),
        context=_text(values.get("context")),
        appname=_text(values.get("appname")),
        appdata=_text(values.get("appdata")),
        peer=_text(values.get("peer")),
        userdeftype=_text(values.get("userdeftype")),
        extra=parse_extra(values.get("extra")),
        seq=seq if isinstance(seq, int) else 0,
    )
