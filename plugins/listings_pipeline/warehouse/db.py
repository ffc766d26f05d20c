"""Where the warehouse is, how to connect to it, and how to migrate it.

The URL comes from, in order (:func:`warehouse_url`):

1. the Airflow connection ``warehouse_default`` (or the ``conn_id`` given), when Airflow is installed
   and the connection exists in any secrets backend (``AIRFLOW_CONN_WAREHOUSE_DEFAULT`` included);
2. the environment variable ``SPAPI_WAREHOUSE_URL`` (a SQLAlchemy URL);
3. the embedded default, a SQLite file ``var/warehouse.db`` under the repository (or under
   ``SPAPI_VAR_DIR``).

Migrations are Alembic scripts inside this package (``migrations/``), run with :func:`upgrade` /
:func:`downgrade`, ``python -m listings_pipeline.warehouse upgrade [--url URL]``, or the ``alembic``
command with ``-c plugins/listings_pipeline/warehouse/alembic.ini``.

URLs carry passwords: log them with :func:`safe_url` only.
"""

from __future__ import annotations

import functools
import importlib.util
import itertools
import operator
import os
import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson
from sqlalchemy import (
    Column,
    Connection,
    Engine,
    Insert,
    MetaData,
    String,
    Table,
    Text,
    any_,
    bindparam,
    create_engine,
    event,
    func,
    insert,
    literal_column,
    select,
    text,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.engine import URL, make_url
from sqlalchemy.orm import Session
from sqlalchemy.sql import Select
from sqlalchemy.types import JSON

if TYPE_CHECKING:
    from alembic.config import Config

PACKAGE_DIR = Path(__file__).resolve().parent
MIGRATIONS_DIR = PACKAGE_DIR / "migrations"
ALEMBIC_INI = PACKAGE_DIR / "alembic.ini"
REPO_ROOT = PACKAGE_DIR.parents[2]  # plugins/listings_pipeline/warehouse -> repository root

DEFAULT_CONN_ID = "warehouse_default"
URL_ENV = "SPAPI_WAREHOUSE_URL"
VAR_DIR_ENV = "SPAPI_VAR_DIR"

SQLITE_BUSY_TIMEOUT_S = 30.0

# Connection parameters libpq understands; other Airflow extras (``cursor``, ``iam``, ...) would make
# psycopg refuse to connect, so they are dropped.
LIBPQ_PARAMS = frozenset(
    {
        "application_name",
        "channel_binding",
        "client_encoding",
        "connect_timeout",
        "gssencmode",
        "keepalives",
        "keepalives_count",
        "keepalives_idle",
        "keepalives_interval",
        "options",
        "sslcert",
        "sslcrl",
        "sslkey",
        "sslmode",
        "sslrootcert",
        "sslsni",
        "target_session_attrs",
        "tcp_user_timeout",
    }
)


def var_dir() -> Path:
    """The directory for local state: ``$SPAPI_VAR_DIR``, else ``var/`` at the repository root."""
    configured = os.environ.get(VAR_DIR_ENV)
    return Path(configured).expanduser() if configured else REPO_ROOT / "var"


def default_sqlite_path() -> Path:
    """The embedded warehouse, resolved now (so a changed ``SPAPI_VAR_DIR`` is honoured)."""
    return var_dir() / "warehouse.db"


DEFAULT_SQLITE_PATH = default_sqlite_path()
"""The embedded warehouse as resolved at import; :func:`default_sqlite_path` resolves again."""


def sqlite_url(path: str | os.PathLike[str]) -> str:
    """``sqlite:///<absolute path>`` (``sqlite://`` for ``:memory:``)."""
    if str(path) in ("", ":memory:"):
        return "sqlite://"
    return URL.create("sqlite", database=str(Path(path).expanduser().resolve())).render_as_string()


def normalize_url(url: str | URL) -> str:
    """A SQLAlchemy URL from what people write: ``postgres://`` and ``postgresql://`` use psycopg 3.

    An explicit driver (``postgresql+psycopg2://``) is kept. The result contains the password.
    """
    parsed = make_url(url)
    if parsed.drivername in ("postgres", "postgresql"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed.render_as_string(hide_password=False)


def safe_url(url: str | URL) -> str:
    """The URL with its password masked, for logs and messages."""
    return make_url(url).render_as_string(hide_password=True)


def url_from_connection(conn: Any) -> str:
    """A SQLAlchemy URL from an Airflow ``Connection``.

    ``sqlite`` connections keep the file path in ``host`` (Airflow's SqliteHook) or, when written
    as a URI (``sqlite:////abs/path.db``), in ``schema``. Everything else goes through
    ``get_uri()``; for PostgreSQL only libpq parameters survive from the extras.
    """
    if conn.conn_type == "sqlite":
        return sqlite_url(conn.host or conn.schema or "")
    url = make_url(conn.get_uri())
    query = {k: v for k, v in url.query.items() if k != "__extra__"}
    if url.drivername.split("+")[0] in ("postgres", "postgresql"):
        query = {k: v for k, v in query.items() if k in LIBPQ_PARAMS}
    return normalize_url(url.set(query=query))


def _airflow_connection_url(conn_id: str) -> str | None:
    if importlib.util.find_spec("airflow") is None:
        return None
    # Imported here: Airflow is optional, and slow to import.
    from airflow.sdk import BaseHook
    from airflow.sdk.exceptions import AirflowNotFoundException

    try:
        conn = BaseHook.get_connection(conn_id)
    except AirflowNotFoundException:
        return None
    return url_from_connection(conn)


def warehouse_url(conn_id: str = DEFAULT_CONN_ID) -> str:
    """The warehouse's SQLAlchemy URL: Airflow connection, else ``$SPAPI_WAREHOUSE_URL``, else SQLite.

    :param conn_id: the Airflow connection to look for.
    :return: a URL with the password in it; log :func:`safe_url` of it, never the URL itself.
    """
    url = _airflow_connection_url(conn_id)
    if url is not None:
        return url
    configured = os.environ.get(URL_ENV)
    if configured:
        return normalize_url(configured)
    return sqlite_url(default_sqlite_path())


SQLITE_CACHE_KIB = 64 * 1024
SQLITE_PAGE_SIZE = 8192


def _configure_sqlite(engine: Engine, read_only: bool) -> None:
    """Foreign keys on, WAL, a busy timeout, and real transactions (DDL and savepoints included).

    pysqlite's own transaction handling starts transactions late and never for DDL; SQLAlchemy's
    documented recipe hands control to SQLAlchemy, which emits ``BEGIN`` itself. Writers begin with
    ``BEGIN IMMEDIATE``: a deferred transaction that reads and then writes while another process
    writes fails at once with "database is locked" (SQLite cannot wait there without risking a
    deadlock), whereas IMMEDIATE takes the write lock up front and waits out the busy timeout. Parallel
    mapped tasks of one run hit exactly that. Readers keep a deferred ``BEGIN`` and never block writers.
    """
    in_memory = engine.url.database in (None, "", ":memory:")

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, connection_record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute("PRAGMA foreign_keys = ON")
            cursor.execute(f"PRAGMA busy_timeout = {int(SQLITE_BUSY_TIMEOUT_S * 1000)}")
            if read_only:
                cursor.execute("PRAGMA query_only = ON")
            if not in_memory:
                # 8 KiB pages for a new file (an existing one keeps its own): three payloads of a
                # few KB fit a page where one did, half the pages to write and cache
                cursor.execute(f"PRAGMA page_size = {SQLITE_PAGE_SIZE}")
                cursor.execute("PRAGMA journal_mode = WAL")
                cursor.execute("PRAGMA synchronous = NORMAL")
                # 64 MiB of pages instead of 2: a plan or build of a million listings probes and
                # rewrites pages all over a table of a GiB (pages are allocated only when used)
                cursor.execute(f"PRAGMA cache_size = -{SQLITE_CACHE_KIB}")
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        conn.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")


def json_dumps(value: Any) -> str:
    """JSON columns are written with orjson: a plan writes a payload per listing, and the standard
    library's encoder was a tenth of the step."""
    return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()


def make_engine(url: str | URL | None = None, *, read_only: bool = False, **kwargs: Any) -> Engine:
    """An engine for the warehouse (``url`` defaults to :func:`warehouse_url`).

    SQLite: the file's directory is created, foreign keys are enforced, WAL journal, 30 s busy
    timeout, and transactions take the write lock when they begin unless ``read_only`` (which also
    refuses writes). PostgreSQL: connections are pinged before use. ``kwargs`` go to ``create_engine``.
    """
    parsed = make_url(normalize_url(url if url is not None else warehouse_url()))
    kwargs.setdefault("json_serializer", json_dumps)
    kwargs.setdefault("json_deserializer", orjson.loads)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database not in (None, "", ":memory:"):
            Path(parsed.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
        connect_args = {"timeout": SQLITE_BUSY_TIMEOUT_S, **kwargs.pop("connect_args", {})}
        engine = create_engine(parsed, connect_args=connect_args, **kwargs)
        _configure_sqlite(engine, read_only)
        return engine
    kwargs.setdefault("pool_pre_ping", True)
    return create_engine(parsed, **kwargs)


@contextmanager
def session_scope(engine: Engine) -> Iterator[Session]:
    """A session in one transaction: committed when the block ends, rolled back if it raises."""
    with Session(engine) as session, session.begin():
        yield session


def insert_ignoring_conflicts(
    session: Session, entity: Any, index_elements: list[str], index_where: str | None = None
) -> Insert:
    """``INSERT ... ON CONFLICT (index_elements) [WHERE index_where] DO NOTHING`` in the session's
    dialect; ``index_where`` names a partial unique index by its predicate, written as the index's.

    PostgreSQL and SQLite (3.24+) both have it; the warehouse supports no other database.
    """
    name = session.get_bind().dialect.name
    where = None if index_where is None else text(index_where)
    if name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        return pg_insert(entity).on_conflict_do_nothing(index_elements=index_elements, index_where=where)
    if name == "sqlite":
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert

        return sqlite_insert(entity).on_conflict_do_nothing(index_elements=index_elements, index_where=where)
    raise NotImplementedError(f"the warehouse supports sqlite and postgresql, not {name}")


def one_of(session: Session, column: Any, values: Sequence[str] | Sequence[int]) -> Any:
    """``column IN values`` for a long list, as one parameter: thousands of bound parameters cost
    more to name, send and plan than the lookup itself (a plan or build of a million listings made
    a million of them). PostgreSQL: an array of the column's type (``= ANY(...)``); SQLite: a JSON
    array read by ``json_each``, whose values the index on ``column`` is probed with."""
    if session.get_bind().dialect.name == "postgresql":
        strings = [v for v in values if isinstance(v, str)]
        if strings and len(strings) == len(values):
            session.connection().connection.driver_connection.adapters.register_dumper(  # type: ignore[union-attr]
                _VarcharArray, _varchar_array_dumper()
            )
            return column == any_(bindparam(None, _VarcharArray(strings)))
        return column == any_(bindparam(None, list(values), type_=ARRAY(column.type)))
    listed: Select[Any] = select(literal_column("value", column.type)).select_from(
        func.json_each(bindparam(None, orjson.dumps(list(values)).decode(), type_=Text))
    )
    return column.in_(listed.scalar_subquery())


def string_columns(
    connection: Connection, statement: Select[*tuple[Any, ...]], batch: int = 50_000
) -> Iterator[list[Any]]:
    """The statement's rows as Arrow string arrays, one per selected column, ``batch`` rows at a
    time, fetched through the driver's own cursor in the connection's transaction.

    A branch's million listings (an incremental run's accepted keys, the SKUs a catalog no longer
    names) took about 5 µs a row through SQLAlchemy's rows and the per-row Python that made columns
    of them, and under 2 µs as the cursor's plain tuples transposed at once. Only text columns may
    be read so: no result processing is skipped that would change a value (anything else raises)."""
    import pyarrow as pa  # type: ignore[import-untyped]

    for column in statement.selected_columns:
        if not isinstance(column.type, String):
            raise TypeError(f"string_columns reads text columns only, not {column.name} ({column.type})")
    compiled = statement.compile(dialect=connection.dialect, compile_kwargs={"render_postcompile": True})
    params = compiled.construct_params()
    bound = [params[name] for name in compiled.positiontup or ()] if compiled.positional else params
    driver: Any = connection.connection.driver_connection
    # PostgreSQL: a server-side (named) cursor, or psycopg would take the whole result at execute;
    # sqlite3 steps through its statement as rows are fetched anyway
    postgresql = connection.dialect.name == "postgresql"
    cursor = driver.cursor(name=f"string_columns_{uuid.uuid4().hex[:12]}") if postgresql else driver.cursor()
    try:
        cursor.execute(str(compiled), bound)
        while rows := cursor.fetchmany(batch):
            yield [pa.array(values, type=pa.string()) for values in zip(*rows, strict=True)]
    finally:
        cursor.close()


class _VarcharArray:
    """Strings bound as one ``varchar[]`` parameter, written in PostgreSQL's text form here: psycopg's
    list dumper runs a regular expression on every element (20 ms for a report's 25,000 SKUs, read
    twice; a second for a plan's million). Typed, not a text cast to an array, so that the planner
    still sees the values (a cast is planned blind: index probes for each SKU, five times slower)."""

    __slots__ = ("text",)

    def __init__(self, values: Sequence[str]) -> None:
        # every element quoted, its " and \ escaped: right for any string
        quoted = ('"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"' for v in values)
        self.text = "{" + ",".join(quoted) + "}"


@functools.cache
def _varchar_array_dumper() -> type:
    """psycopg's dumper of a :class:`_VarcharArray` (psycopg imported only once PostgreSQL is used)."""
    import psycopg
    from psycopg.adapt import Dumper

    class VarcharArrayDumper(Dumper):
        oid = psycopg.postgres.types["varchar"].array_oid

        def dump(self, obj: _VarcharArray) -> bytes:
            return obj.text.encode()

    return VarcharArrayDumper


# --- bulk writes ------------------------------------------------------------------------------------


def _copy_rows(session: Session, table: Table, columns: list[str], rows: Sequence[Mapping[str, Any]]) -> None:
    """``COPY table (columns) FROM STDIN`` in the session's transaction, each value made ready by its
    column type's own bind processing (UTC timestamps, JSONB), so what lands is what an INSERT writes.

    Only the columns with a processor are touched row by row, and a value every row shares (``now``,
    a feed id) is processed once: a report's 25,000 results and events went through a generator per
    row and a processor call per value, more client time than PostgreSQL's own COPY."""
    dialect = session.get_bind().dialect
    processors = [_copy_processor(table.c[name].type, dialect) for name in columns]
    cursor = session.connection().connection.driver_connection.cursor()  # type: ignore[union-attr]
    quoted = ", ".join(f'"{name}"' for name in columns)
    with cursor.copy(f'COPY "{table.name}" ({quoted}) FROM STDIN') as copy:
        write = copy.write_row
        for values in _converted(rows, columns, processors):
            write(values)


def _copy_processor(column_type: Any, dialect: Any) -> Any:
    """How one column's Python value goes into COPY: JSON wrapped for psycopg (COPY would write a
    list as an array literal), everything else as the type's own bind processing does it."""
    impl = column_type.dialect_impl(dialect)
    if isinstance(impl, JSON):
        from psycopg.types.json import Json, Jsonb

        wrap = Jsonb if isinstance(impl, JSONB) else Json
        return lambda value: None if value is None else wrap(value, dumps=json_dumps)
    return column_type.bind_processor(dialect)


def _python_defaults_left_out(table: Table, columns: Sequence[str]) -> bool:
    """Whether a column the rows leave out has a default SQLAlchemy computes in Python: only its own
    executemany fills those in."""
    named = set(columns)
    return any(c.default is not None and c.name not in named for c in table.columns)


def _sqlite_insert(
    session: Session,
    table: Table,
    columns: list[str],
    rows: Sequence[Mapping[str, Any]],
    ignore_conflicts_on: list[str] | None,
) -> None:
    """One DB-API executemany of positional rows, each value through its column type's own bind
    processing (what SQLAlchemy's executemany does), done once for a value every row shares.

    Why: a plan inserts a million listings and their first events; SQLAlchemy's per-row parameter
    dictionaries and type processing cost as much as SQLite's own insert (issue #13).
    """
    listed = ", ".join(f'"{c}"' for c in columns)
    statement = f'INSERT INTO "{table.name}" ({listed}) VALUES ({", ".join("?" for _ in columns)})'
    if ignore_conflicts_on:
        keys = ", ".join(f'"{c}"' for c in ignore_conflicts_on)
        statement += f" ON CONFLICT ({keys}) DO NOTHING"
    session.connection().exec_driver_sql(statement, _positional(session, table, columns, rows))


def _positional(
    session: Session, table: Table, columns: Sequence[str], rows: Sequence[Mapping[str, Any]]
) -> list[tuple[Any, ...]]:
    """The rows as DB-API tuples in ``columns``' order, each value through its column type's bind
    processing (the dialect's own type: a generic DateTime has no processor, and sqlite3's default
    adapter would write another text format than SQLAlchemy's); a value every row shares is
    converted once, and a column without processing is taken as it is."""
    dialect = session.get_bind().dialect
    processors = [table.c[name].type.dialect_impl(dialect).bind_processor(dialect) for name in columns]
    return list(_converted(rows, columns, processors))


def _converted(
    rows: Sequence[Mapping[str, Any]], columns: Sequence[str], processors: Sequence[Any]
) -> Iterator[tuple[Any, ...]]:
    """Each row's values in ``columns``' order, each through its processor (``None``: as it is); a
    value every row shares (``now``, a feed id) is processed once. What both bulk paths send: the
    SQLite executemany and PostgreSQL's COPY."""
    take = operator.itemgetter(*columns)
    single = len(columns) == 1  # itemgetter of one key gives the value, not a tuple
    converting = [(i, _SharedValue(p)) for i, p in enumerate(processors) if p is not None]
    for row in rows:
        values: tuple[Any, ...] = (take(row),) if single else take(row)
        if converting:
            cells = list(values)
            for i, convert in converting:
                cells[i] = convert(cells[i])
            values = tuple(cells)
        yield values


class _SharedValue:
    """A bind processor that reuses its last answer for the very same object (``now``, a feed id:
    the values every row of a batch shares)."""

    __slots__ = ("_answer", "_process", "_seen")

    def __init__(self, process: Any) -> None:
        self._process = process
        self._seen: object = _SharedValue
        self._answer: Any = None

    def __call__(self, value: Any) -> Any:
        if value is not self._seen:
            self._seen, self._answer = value, self._process(value)
        return self._answer


def _same_columns(rows: Sequence[Mapping[str, Any]]) -> list[str]:
    first = rows[0].keys()
    # a comparison of key views, done in C, where a loop over every column of every row was a tenth
    # of a parse step's own Python time
    if any(row.keys() != first for row in rows):
        raise ValueError("bulk writes take rows with the same columns")
    return list(first)


def _temporary_copy(
    session: Session, table: Table, columns: Sequence[str], rows: Sequence[Mapping[str, Any]]
) -> str:
    """A temporary table with ``columns`` of ``table``, filled by COPY; returns its name."""
    temp = f"bulk_{table.name}_{uuid.uuid4().hex[:12]}"
    listed = ", ".join(f'"{c}"' for c in columns)
    session.execute(
        text(
            f'CREATE TEMPORARY TABLE "{temp}" ON COMMIT DROP AS SELECT {listed} FROM "{table.name}" WITH NO DATA'
        )
    )
    shape = Table(temp, MetaData(), *(Column(c, table.c[c].type) for c in columns))
    _copy_rows(session, shape, list(columns), rows)
    return temp


def bulk_insert(
    session: Session,
    entity: Any,
    rows: Sequence[Mapping[str, Any]],
    *,
    ignore_conflicts_on: list[str] | None = None,
) -> None:
    """Many rows, all with the same columns, into one table; with ``ignore_conflicts_on``, a row
    whose key is there already is skipped (``ON CONFLICT (...) DO NOTHING``).

    PostgreSQL: one ``COPY`` stream (a report's 25,000 results and events in a fraction of a second,
    where an executemany sends a statement per row), through a temporary table when conflicts are
    to be ignored; SQLite, in-process: a Core executemany.
    """
    if not rows:
        return
    table: Table = entity.__table__
    if session.get_bind().dialect.name != "postgresql":
        columns = _same_columns(rows)
        if not _python_defaults_left_out(table, columns):
            _sqlite_insert(session, table, columns, rows, ignore_conflicts_on)
            return
        # the table, not the mapped class: the ORM's bulk path sorts and inspects every row on the
        # way to the same executemany, several times the cost of the insert itself
        if ignore_conflicts_on:
            session.execute(insert_ignoring_conflicts(session, table, ignore_conflicts_on), list(rows))
        else:
            session.execute(insert(table), list(rows))
        return
    session.flush()
    columns = _same_columns(rows)
    if not ignore_conflicts_on:
        _copy_rows(session, table, columns, rows)
        return
    _insert_through_temporary(session, table, columns, rows, ignore_conflicts_on)


def _insert_through_temporary(
    session: Session,
    table: Table,
    columns: list[str],
    rows: Sequence[Mapping[str, Any]],
    keys: list[str],
    index_where: str | None = None,
    returning: Sequence[str] = (),
) -> list[tuple[Any, ...]]:
    """PostgreSQL: the rows COPY'd into a temporary table, then one ``INSERT ... SELECT ... ON
    CONFLICT (keys) [WHERE index_where] DO NOTHING [RETURNING returning]``; returns what it returns."""
    temp = _temporary_copy(session, table, columns, rows)
    listed = ", ".join(f'"{c}"' for c in columns)
    conflict = ", ".join(f'"{c}"' for c in keys)
    where = f" WHERE {index_where}" if index_where is not None else ""
    statement = (
        f'INSERT INTO "{table.name}" ({listed}) SELECT {listed} FROM "{temp}" '
        f"ON CONFLICT ({conflict}){where} DO NOTHING"
    )
    if returning:
        statement += " RETURNING " + ", ".join(f'"{c}"' for c in returning)
        inserted = [tuple(row) for row in session.execute(text(statement))]
    else:
        session.execute(text(statement))
        inserted = []
    session.execute(text(f'DROP TABLE "{temp}"'))
    return inserted


def insert_returning(
    session: Session,
    entity: Any,
    rows: Sequence[Mapping[str, Any]],
    returning: Sequence[str],
    *,
    ignore_conflicts_on: list[str],
    index_where: str | None = None,
) -> list[tuple[Any, ...]]:
    """Many rows, all with the same columns, into one table, skipping a row whose key is there
    already (``ON CONFLICT (ignore_conflicts_on) [WHERE index_where] DO NOTHING``, as
    :func:`insert_ignoring_conflicts`); returns the ``returning`` columns of the rows inserted, in no
    particular order.

    PostgreSQL: the rows go into a temporary table by COPY and from there in one ``INSERT ...
    SELECT``: an executemany with RETURNING renders a statement of a thousand rows' parameters at a
    time, which psycopg rewrites placeholder by placeholder (a report's 1,300 dead letters took
    longer than its 25,000 results). SQLite: that executemany.
    """
    if not rows:
        return []
    table: Table = entity.__table__
    if session.get_bind().dialect.name != "postgresql":
        statement = insert_ignoring_conflicts(session, table, ignore_conflicts_on, index_where).returning(
            *(table.c[c] for c in returning)
        )
        return [tuple(row) for row in session.execute(statement, list(rows))]
    session.flush()
    return _insert_through_temporary(
        session, table, _same_columns(rows), rows, ignore_conflicts_on, index_where, returning
    )


def bulk_update(session: Session, entity: Any, rows: Sequence[Mapping[str, Any]]) -> None:
    """Many rows of one table updated by primary key ``id``; each row names the columns it sets.

    PostgreSQL: a column set to the same value in every row of a column set (a status, a
    timestamp, a feed id: most of a lifecycle move) is bound once, not carried row by row; the
    varying columns are copied into a temporary table and applied with one ``UPDATE ... FROM``
    (only constants: one ``UPDATE ... WHERE id = ANY(...)``). SQLite: one DB-API executemany of
    ``UPDATE ... WHERE id = ?``, a value every row shares converted once.
    """
    if not rows:
        return
    table: Table = entity.__table__
    postgresql = session.get_bind().dialect.name == "postgresql"
    if postgresql:
        session.flush()
    groups: dict[tuple[str, ...], list[Mapping[str, Any]]] = {}
    for row in rows:
        groups.setdefault(tuple(sorted(row)), []).append(row)
    for columns, group in groups.items():
        if "id" not in columns:
            raise ValueError("bulk_update takes rows with their primary key 'id'")
        setting = [c for c in columns if c != "id"]
        if not setting:
            continue
        if not postgresql:
            # one DB-API executemany by primary key, a value every row shares converted once;
            # SQLAlchemy's executemany built and processed a parameter dictionary per row (a third
            # of a build's moves of a million listings)
            assignments = ", ".join(f'"{c}" = ?' for c in setting)
            session.connection().exec_driver_sql(
                f'UPDATE "{table.name}" SET {assignments} WHERE "id" = ?',
                _positional(session, table, [*setting, "id"], group),
            )
            continue
        constant = _same_in_every_row(group, setting)
        varying = [c for c in setting if c not in constant]
        fixed = {c: bindparam(f"k_{c}", constant[c], type_=table.c[c].type) for c in constant}
        if not varying:
            ids = [row["id"] for row in group]
            session.execute(
                update(table)
                .where(table.c.id == any_(bindparam("ids", ids, type_=ARRAY(table.c.id.type))))
                .values(fixed)
            )
            continue
        temp = _temporary_copy(session, table, ["id", *varying], group)
        assignments = ", ".join(
            [*(f'"{c}" = t."{c}"' for c in varying), *(f'"{c}" = :k_{c}' for c in constant)]
        )
        session.execute(
            text(
                f'UPDATE "{table.name}" SET {assignments} FROM "{temp}" AS t WHERE "{table.name}".id = t.id'
            ).bindparams(*fixed.values())
        )
        session.execute(text(f'DROP TABLE "{temp}"'))


def _same_in_every_row(rows: Sequence[Mapping[str, Any]], columns: list[str]) -> dict[str, Any]:
    """The columns whose value is one and the same in every row, with that value."""
    first = rows[0]
    # the very same object in every row (a move's status, ``now``) is told in C, without a call of
    # _same per row (a report's 23,500 accepted listings share four of their five columns)
    return {
        c: first[c]
        for c in columns
        if all(map(operator.is_, map(operator.itemgetter(c), rows), itertools.repeat(first[c])))
        or all(_same(row[c], first[c]) for row in rows)
    }


def _same(a: object, b: object) -> bool:
    """The same object, or equal scalars of one type: ``1 == 1.0 == True`` and two equal-looking
    JSON documents may still be written differently, so a container counts only by identity."""
    if a is b:
        return True
    if type(a) is not type(b) or isinstance(a, dict | list):
        return False
    return bool(a == b)


# --- migrations ---------------------------------------------------------------------------------------


def alembic_config(connection: Connection | None = None, url: str | None = None) -> Config:
    """An Alembic ``Config`` for this package's migrations, built without an ini file.

    :param connection: run on this connection (``config.attributes["connection"]``), inside the
        caller's transaction.
    :param url: else connect to this URL (default: :func:`warehouse_url`).
    """
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("path_separator", "os")
    if url is not None:
        # ConfigParser interpolation: a literal % must be doubled.
        config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


@contextmanager
def _connection(url_or_engine: str | URL | Engine | Connection | None) -> Iterator[Connection]:
    if isinstance(url_or_engine, Connection):
        yield url_or_engine
        return
    engine = url_or_engine if isinstance(url_or_engine, Engine) else make_engine(url_or_engine)
    try:
        with engine.begin() as connection:
            yield connection
    finally:
        if engine is not url_or_engine:
            engine.dispose()


def upgrade(url_or_engine: str | URL | Engine | Connection | None = None, revision: str = "head") -> None:
    """Migrate the warehouse up to ``revision``, in one transaction where the database allows it.

    :param url_or_engine: a URL, an engine or a connection (default: :func:`warehouse_url`).
    """
    from alembic import command

    with _connection(url_or_engine) as connection:
        command.upgrade(alembic_config(connection), revision)


def downgrade(url_or_engine: str | URL | Engine | Connection | None = None, revision: str = "-1") -> None:
    """Migrate the warehouse down to ``revision`` (``base`` drops everything)."""
    from alembic import command

    with _connection(url_or_engine) as connection:
        command.downgrade(alembic_config(connection), revision)


def current_revision(url_or_engine: str | URL | Engine | Connection | None = None) -> str | None:
    """The revision the database is at (``None`` when it was never migrated)."""
    from alembic.runtime.migration import MigrationContext

    with _connection(url_or_engine) as connection:
        return MigrationContext.configure(connection).get_current_revision()


def head_revision() -> str:
    """The newest revision in this package."""
    from alembic.script import ScriptDirectory

    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    if head is None:  # pragma: no cover - the package always ships a migration
        raise RuntimeError(f"no migrations in {MIGRATIONS_DIR}")
    return head
