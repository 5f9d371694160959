"""The registry store: SQLite file by default, PostgreSQL by URL, Alembic-migrated on open.

Import semantics (``Store.import_registry``):

1. an import whose source hash (files + options) equals the most recent import's is a no-op
   (status ``unchanged``): those bytes were validated and written by that import;
2. otherwise read and validate everything first (the same rules as ``oligomet registry
   validate``); any error -> nothing is written and the result carries the full report;
3. then, in **one transaction** that holds the store's write lock (SQLite ``BEGIN IMMEDIATE``,
   a PostgreSQL transaction-level advisory lock), so that two imports run one after the other:
   refuse a patient id already stored for another site, and refuse (unless ``allow_deletions``)
   an import whose source has no rows in a table where the store holds rows of its patients (a
   partial export); record the import (time, source, SHA-256 of every file, row counts, the
   patients it brings); delete the stored rows of those patients *of the importing site*; insert
   the new rows. Re-importing a source therefore converges to the same content (idempotent),
   several sites can be imported one after the other or at the same time, and a record deleted at
   the source disappears from the store when its patient is re-imported. A database error rolls
   everything back.

An import with a ``site`` (``registry/sites.py``) is that hospital's whole export: its ids are
stored as ``"<site>:<id>"``, it replaces every stored row of the site and no other row, and its
provenance names the site (and, read through a ``mapping``, the mapping file's SHA-256), all in the
same transaction; "unchanged" then compares with the site's latest import.

Opening a store for writing migrates it (in one transaction, so a crash mid-creation leaves no
half-built store); :meth:`Store.open_read_only` never writes and refuses a store of another
schema version. Direct identifiers never reach the store: they are refused or replaced by
``patients.pseudonym`` (see ``registry/identifiers.py``).
"""
from __future__ import annotations

import contextlib
import datetime as dt
import io as _io
import sqlite3
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory

from .. import __version__
from .._validation import lock_date
from .fields import TABLE_ORDER, TABLES
from . import provenance
from .identifiers import normalise_key
from .io import _export_frame, conform_memory, detect_format, read_registry, source_files
from .parse import check_date_format, empty_table
from .report import ProblemLog, ValidationReport
from .schema import import_counts, import_files, import_patients, imports, registry_tables
from .sites import assign_site, check_site_name, namespace_ids
from .validate import combine, validate

DEFAULT_URL = "sqlite:///oligomet.sqlite"
#: Seconds a PostgreSQL import statement may run (and an import may wait for another one's lock)
#: before it is cancelled and rolled back; SQLite waits as long for the write lock.
DEFAULT_STATEMENT_TIMEOUT = 900.0
_MIGRATIONS = Path(__file__).parent / "migrations"
_CHUNK = 5000
# Key of the PostgreSQL advisory lock that serialises imports and migrations ("oligomet" in ASCII).
_LOCK_KEY = int.from_bytes(b"oligomet", "big")
# The child tables whose rows an import replaces per patient (complications via their treatment).
_CHILD_TABLES = tuple(name for name in TABLE_ORDER if name != "patients")

# Test seam: called inside the write transaction after the cross-site check, before anything is
# deleted (the concurrency test pauses here to widen the window two imports could race in).
_after_site_check = None
# Test seam: see _trace.
_trace_hook = None


class StoreVersionError(RuntimeError):
    """A store opened read-only is not at the schema revision this oligomet reads."""


@dataclass
class ImportResult:
    """Outcome of :meth:`Store.import_registry`.

    ``status``: ``"imported"`` (written), ``"unchanged"`` (same source as the last import; nothing
    written) or ``"rejected"`` (validation or database errors; nothing written). ``import_id`` is
    the new import (or, when unchanged, the earlier one), ``rows`` the row count per table of the
    source, ``report`` every problem found (warnings too, for imported sources). ``stored`` is, per
    table, ``(rows stored before, rows stored after)`` the import; for an import refused inside
    the store (site conflict, deletions) "after" is what the import would have left; it is empty
    when validation rejected the source before the store was consulted.
    """

    status: str
    report: ValidationReport
    import_id: int | None = None
    source_sha256: str | None = None
    rows: dict[str, int] = field(default_factory=dict)
    stored: dict[str, tuple[int, int]] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.status in ("imported", "unchanged")

    def stored_lines(self) -> list[str]:
        """``"lesions: stored 6 → 0"`` per table (what the import changed in the store)."""
        verb = "would be" if self.status == "rejected" else "→"
        return [f"{name}: stored {before:,} {verb} {after:,}" for name, (before, after) in self.stored.items()]

    def __str__(self) -> str:
        counts = ", ".join(f"{k} {v}" for k, v in self.rows.items())
        head = f"import {self.status}" + (f" (import #{self.import_id})" if self.import_id is not None else "")
        return "\n".join([f"{head}: {counts}", *self.stored_lines(), self.report.summary()])


class _Refused(Exception):
    """Raised inside the write transaction to roll it back and return a rejected result."""

    def __init__(self, report: ValidationReport, stored: dict) -> None:
        super().__init__("import refused")
        self.report, self.stored = report, stored


def _normalise_url(url: str | Path | None) -> str:
    if url is None:
        return DEFAULT_URL
    url = str(url)
    if "://" not in url:
        return f"sqlite:///{url}"
    scheme, rest = url.split("://", 1)
    if scheme in ("postgresql", "postgres"):
        # SQLAlchemy 2.1 maps a bare postgresql:// to psycopg 3; the project depends on psycopg2 (whose
        # copy_expert the store's COPY path uses). An explicit postgresql+<driver>:// is left alone.
        try:
            import psycopg2  # noqa: F401
            return f"postgresql+psycopg2://{rest}"
        except ImportError:
            return f"postgresql+psycopg://{rest}"
    return url


def _migration_config() -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(_MIGRATIONS))
    return cfg


def _head_revision() -> str:
    return ScriptDirectory.from_config(_migration_config()).get_current_head()


def _make_engine(url: str, *, echo: bool, read_only: bool, timeout: float | None) -> sa.Engine:
    sa_url = sa.engine.make_url(url)
    if sa_url.get_backend_name() != "sqlite":
        connect_args = {}
        if read_only and sa_url.get_backend_name() == "postgresql":
            # The server itself refuses every write of these sessions.
            connect_args["options"] = "-c default_transaction_read_only=on"
        return sa.create_engine(url, echo=echo, connect_args=connect_args)
    wait = 5.0 if timeout is None else float(timeout)  # how long to wait for another writer's lock
    database = sa_url.database
    if read_only:
        if not database or database == ":memory:":
            raise ValueError(f"a read-only store needs a SQLite file, not {url!r}")
        path = Path(database).resolve()
        if not path.is_file():
            raise FileNotFoundError(f"no registry store at {path} (import a registry into it first)")
        # mode=ro: SQLite opens the file without write access, so nothing can change it.
        uri = f"file:{urllib.parse.quote(str(path))}?mode=ro"
        engine = sa.create_engine("sqlite://", echo=echo, poolclass=sa.pool.QueuePool,
                                  creator=lambda: sqlite3.connect(uri, uri=True, timeout=wait,
                                                                  check_same_thread=False))
    else:
        engine = sa.create_engine(url, echo=echo, connect_args={"timeout": wait})

    @sa.event.listens_for(engine, "connect")
    def _connect(dbapi_conn, _record):
        # Take transaction control from the sqlite3 module, which would run DDL outside any
        # transaction (a crash while creating a store then left half a schema) and cannot BEGIN
        # IMMEDIATE. SQLite ignores foreign keys unless asked on every connection.
        dbapi_conn.isolation_level = None
        dbapi_conn.execute("PRAGMA foreign_keys=ON")

    @sa.event.listens_for(engine, "begin")
    def _begin(conn):
        # A writer takes the write lock at BEGIN, so that what it checked stays true until it commits.
        write = conn.get_execution_options().get("oligomet_write", False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")

    return engine


class Store:
    """A registry database. ``Store()`` opens (creating if needed) ``oligomet.sqlite`` in the
    working directory; ``Store("postgresql://user@host/db")`` or ``Store("path/to/file.sqlite")``
    open others. The schema is migrated to the latest Alembic revision on open.

    ``statement_timeout`` (seconds, None = no limit): a PostgreSQL import statement running longer
    is cancelled and the import rolled back (so a killed client's DELETE does not run on for
    minutes holding its locks); an import waits at most this long for another import's lock (also
    on SQLite). Use :meth:`open_read_only` to read a store without changing it.
    """

    def __init__(self, url: str | Path | None = None, *, echo: bool = False,
                 statement_timeout: float | None = DEFAULT_STATEMENT_TIMEOUT, read_only: bool = False) -> None:
        self.url = _normalise_url(url)
        self.read_only = read_only
        self.statement_timeout = statement_timeout
        self.engine = _make_engine(self.url, echo=echo, read_only=read_only, timeout=statement_timeout)
        try:
            if read_only:
                self._check_version()
            else:
                self._migrate()
        except BaseException:
            self.engine.dispose()
            raise

    @classmethod
    def open_read_only(cls, url: str | Path | None, **kwargs) -> "Store":
        """Open an existing store for reading only: no migration, no write (SQLite ``mode=ro``,
        PostgreSQL read-only sessions), and :class:`StoreVersionError` when the store's schema
        revision is not the one this oligomet reads."""
        return cls(url, read_only=True, **kwargs)

    @contextlib.contextmanager
    def _write_transaction(self):
        """One transaction holding the store's write lock (imports and migrations run one at a time)."""
        with self.engine.connect().execution_options(oligomet_write=True) as conn, conn.begin():
            if conn.dialect.name == "postgresql":
                if self.statement_timeout is not None:
                    conn.execute(sa.text("SELECT set_config('statement_timeout', :ms, true)"),
                                 {"ms": f"{int(self.statement_timeout * 1000)}ms"})
                conn.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": _LOCK_KEY})
            yield conn

    def _migrate(self) -> None:
        if self._revision() == _head_revision():
            return  # up to date: no need to wait for the write lock (an import may hold it)
        cfg = _migration_config()
        # One transaction: a crash mid-creation leaves no half-built schema (SQLite DDL included).
        with self._write_transaction() as conn:
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "head")

    def _revision(self) -> str | None:
        """The store's schema revision; None for a database without oligomet's tables."""
        with self.engine.connect() as conn:
            if not sa.inspect(conn).has_table("alembic_version"):
                return None
            return conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalar_one_or_none()

    def _check_version(self) -> None:
        revision, head = self._revision(), _head_revision()
        if revision == head:
            return
        if revision is None:
            raise StoreVersionError(f"{self!r} is not an oligomet registry store (it has no schema revision); "
                                    "import a registry into it first")
        known = {s.revision for s in ScriptDirectory.from_config(_migration_config()).walk_revisions()}
        if revision in known:
            raise StoreVersionError(
                f"the store {self!r} has schema revision {revision}, this oligomet reads revision {head}; "
                f"upgrade the store first: oligomet registry upgrade --db <url>")
        raise StoreVersionError(f"the store {self!r} has schema revision {revision!r}, unknown to this oligomet "
                                f"(it reads revision {head}): it was written by a newer oligomet; upgrade oligomet")

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> "Store":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Store({self.engine.url.render_as_string(hide_password=True)!r})"

    # ------------------------------------------------------------------ import
    def import_registry(self, source, data_lock=None, identifier_key=None, *, format: str | None = None,
                        date_format: str | None = None, allow_deletions: bool = False, site: str | None = None,
                        mapping=None) -> ImportResult:
        """Validate ``source`` (a path or an in-memory registry dict) and write it all-or-nothing.

        Never raises on bad data: a rejected source returns ``status="rejected"`` and the report.
        ``allow_deletions``: accept a source without rows in a table where the store holds rows of
        its patients (they are deleted); refused by default, as a sign of a partial export.
        ``site``: the source is that hospital's whole export (see ``registry/sites.py``): its ids are
        stored as ``"<site>:<id>"`` and the import replaces every stored row of that site, and no
        other. ``mapping``: a site mapping file (path or ``SiteMapping``) through which the folder
        ``source`` is read (``registry/mapping.py``); its SHA-256 is part of the import's provenance.
        """
        if self.read_only:
            raise PermissionError(f"{self!r} was opened read-only; open it with Store(url) to import")
        key = normalise_key(identifier_key)
        lock = None if data_lock is None else lock_date(data_lock, date_format=date_format,
                                                        declare="declare its format with date_format").normalize()
        site = None if site is None else check_site_name(site)
        read = _SourceReader(source, format, date_format, key, mapping, site)
        source_sha = provenance.source_digest(read.hashes, date_format=date_format, data_lock=lock, key=key)
        with self.engine.connect() as conn:
            last = _last_import(conn, site)
            if last is not None and last.source_sha256 == source_sha and _unchanged_since(conn, site, last.import_id):
                # The same bytes with the same options were validated and written by that import.
                counts = dict(conn.execute(sa.select(import_counts.c.table_name, import_counts.c.rows)
                                           .where(import_counts.c.import_id == last.import_id)).all())
                rows = {name: int(counts.get(name, 0)) for name in TABLE_ORDER}
                now = _table_counts(conn)
                stored = {name: (n, n) for name, n in now.items()}
                return ImportResult("unchanged", ValidationReport(), last.import_id, source_sha, rows, stored)
        tables, report = read.check(lock)
        rows = {name: len(tables[name]) for name in TABLE_ORDER}
        if not report.ok:
            return ImportResult("rejected", report, None, source_sha, rows)
        if site is not None:
            tables = namespace_ids(tables, site)
        try:
            import_id, stored = self._write(tables, report, read, source_sha, lock, key is not None, rows,
                                            allow_deletions, site)
        except _Refused as refused:
            return ImportResult("rejected", combine(report, refused.report), None, source_sha, rows, refused.stored)
        except Exception as exc:
            if _is_timeout(exc):
                raise TimeoutError(f"the import took longer than the statement timeout of {self.statement_timeout} s "
                                   "and was rolled back (nothing was written); raise it with "
                                   "Store(url, statement_timeout=...) or --statement-timeout") from exc
            # SQLAlchemy wraps driver errors of INSERTs; COPY errors come straight from the driver.
            driver_integrity = getattr(self.engine.dialect.dbapi, "IntegrityError", None)
            if not (isinstance(exc, sa.exc.IntegrityError)
                    or (driver_integrity is not None and isinstance(exc, driver_integrity))):
                raise
            return ImportResult("rejected", report + self._constraint_report(exc, tables), None, source_sha, rows)
        return ImportResult("imported", report, import_id, source_sha, rows, stored)

    def _write(self, tables, report, read: "_SourceReader", source_sha, lock, pseudonymised, rows, allow_deletions,
               site) -> tuple[int, dict]:
        _trace("lock_wait")
        with self._write_transaction() as conn:
            _trace("locked")
            import_id = conn.execute(imports.insert().values(
                imported_at=dt.datetime.now(dt.timezone.utc).replace(tzinfo=None), source=read.name,
                format=read.format, source_sha256=source_sha, data_lock=None if lock is None else lock.date(),
                pseudonymised=pseudonymised, oligomet_version=__version__,
                n_warnings=len(report.warnings))).inserted_primary_key[0]
            pids = tables["patients"]["patient_id"].dropna().unique().tolist()
            _insert(conn, import_patients, [{"import_id": import_id, "patient_id": p} for p in pids])
            # Checked under the write lock: nothing another import commits can invalidate it.
            conflicts = _site_conflicts(conn, tables["patients"], import_id)
            if conflicts is not None:
                raise _Refused(conflicts, {})
            if _after_site_check is not None:
                _after_site_check()
            replaced = (_replaced_patients(conn, import_id, tables["patients"]) if site is None
                        else _site_patients(site))
            before = _table_counts(conn)
            dropped = _replaced_counts(conn, replaced)
            stored = {name: (before[name], before[name] - dropped[name] + rows[name]) for name in TABLE_ORDER}
            # a site's import replaces its patients too: an export without patients would empty the site
            deletions = _deletion_problems(dropped, rows, TABLE_ORDER if site is not None else _CHILD_TABLES)
            if deletions is not None and not allow_deletions:
                raise _Refused(deletions, stored)
            conn.execute(import_files.insert(), [{"import_id": import_id, "file": n, "sha256": h, "bytes": b}
                                                 for n, (h, b) in sorted(read.hashes.items())])
            conn.execute(import_counts.insert(), [{"import_id": import_id, "table_name": n, "rows": r}
                                                  for n, r in rows.items()])
            _delete_patients(conn, replaced)
            _trace("deleted")
            for name in TABLE_ORDER:
                _insert_frame(conn, registry_tables[name], tables[name], name, import_id)
                _trace(f"wrote {name}")
        return import_id, stored

    def _constraint_report(self, exc: Exception, tables: dict[str, pd.DataFrame]) -> ValidationReport:
        """The rows behind a database constraint error (after the rollback), by table, row, patient, value."""
        from .constraint_errors import constraint_problems  # noqa: PLC0415 (only on this rare path)

        with self.engine.connect() as conn:
            return constraint_problems(exc, tables, conn)

    # ------------------------------------------------------------------ read
    def load(self) -> dict[str, pd.DataFrame]:
        """The stored registry in the in-memory contract (``dict[table, DataFrame]``)."""
        out = {}
        with self.engine.connect() as conn:
            for name in TABLE_ORDER:
                t = registry_tables[name]
                cols = [t.c[f] for f in TABLES[name].field_names]
                order = [t.c[k] for k in TABLES[name].key] if len(TABLES[name].key) == 1 else [t.c.id]
                result = conn.execute(sa.select(*cols).order_by(*order)).all()
                frame = pd.DataFrame(result, columns=TABLES[name].field_names)
                out[name] = _to_contract(frame, name)
        return out

    def imports(self) -> pd.DataFrame:
        """Provenance, one row per import: ``import_id``, ``imported_at`` (UTC), ``source``, ``site`` (of an
        import with a site, else None), ``format``,
        ``source_sha256``, ``data_lock``, ``pseudonymised``, ``oligomet_version``, ``n_warnings``,
        ``files`` (dict file -> SHA-256) and ``rows_<table>`` (rows in the source, per table)."""
        with self.engine.connect() as conn:
            base = pd.DataFrame(conn.execute(sa.select(imports).order_by(imports.c.import_id)).mappings().all(),
                                columns=[c.name for c in imports.columns])
            files = pd.DataFrame(conn.execute(sa.select(import_files)).mappings().all(),
                                 columns=[c.name for c in import_files.columns])
            counts = pd.DataFrame(conn.execute(sa.select(import_counts)).mappings().all(),
                                  columns=[c.name for c in import_counts.columns])
        base["files"] = base["import_id"].map(
            {i: dict(zip(g["file"], g["sha256"])) for i, g in files.groupby("import_id")} if len(files) else {})
        declared = files[files["file"].str.startswith("site:")] if len(files) else files
        site = base["import_id"].map(dict(zip(declared["import_id"], declared["file"].str[5:]))).astype(object)
        base.insert(3, "site", site.where(site.notna(), None))
        for name in TABLE_ORDER:
            c = counts[counts["table_name"] == name].set_index("import_id")["rows"]
            base[f"rows_{name}"] = base["import_id"].map(c).astype("Int64")
        return base

    def import_files(self) -> pd.DataFrame:
        """Every file of every import: ``import_id``, ``file``, ``sha256``, ``bytes``."""
        with self.engine.connect() as conn:
            return pd.DataFrame(conn.execute(sa.select(import_files).order_by(import_files.c.import_id,
                                                                               import_files.c.file)).mappings().all(),
                                columns=[c.name for c in import_files.columns])


class _SourceReader:
    """One import's source: the SHA-256 of what it reads (known before reading, so that an unchanged
    source is recognised without parsing it), its name and format for the provenance, and
    :meth:`check`, which reads and validates it. The provenance files are the source's files, plus
    ``mapping:<file name>`` (the mapping file's SHA-256) and ``site:<name>`` when given."""

    def __init__(self, source, format, date_format, key, mapping, site) -> None:
        self.source, self.date_format, self.key, self.site, self.mapping = source, date_format, key, site, None
        if mapping is not None:
            from .mapping import SiteMapping, load_mapping, source_files as mapped_files  # noqa: PLC0415

            if format is not None or date_format is not None:
                raise ValueError("a mapping declares the files, the date order and the decimal mark; "
                                 "give no format or date_format with it")
            if isinstance(source, dict) or not Path(source).is_dir():
                raise NotADirectoryError(f"a mapping reads a folder of the site's own export; {source!r} is not one")
            m = mapping if isinstance(mapping, SiteMapping) else load_mapping(mapping)
            if site is not None and m.site is not None and m.site != site:
                raise ValueError(f"the mapping says site: {m.site!r}, the import is for site {site!r}; "
                                 "correct one of them")
            self.mapping = m
            self.hashes = provenance.file_hashes(mapped_files(source, m))
            self.hashes[f"mapping:{Path(m._path).name if m._path else '<text>'}"] = (m.hash, None)
            self.name, self.format = str(Path(source).resolve()), "mapping"
        elif isinstance(source, dict):
            self.log = ProblemLog()
            self.tables = conform_memory(source, self.log, order=check_date_format(date_format), key=key)
            self.hashes = provenance.table_hashes(self.tables)
            self.name, self.format = "<memory>", "memory"
        else:
            path = Path(source)
            if not path.exists():
                raise FileNotFoundError(f"registry path {path} does not exist")
            self.format = format or detect_format(path)
            self.hashes = provenance.file_hashes(source_files(path, self.format))
            self.name = str(path.resolve())
        if site is not None:
            # the site decides the stored ids and what the import replaces: part of what was imported
            self.hashes[f"site:{site}"] = (provenance.sha256(site.encode("utf-8")), None)

    def check(self, lock) -> tuple[dict[str, pd.DataFrame], ValidationReport]:
        """(tables, every read, site and rule problem); a mapped source's problems in its own terms."""
        origins = None
        if self.mapping is not None:
            from .mapping import read_mapped  # noqa: PLC0415

            tables, origins, log = read_mapped(self.source, self.mapping, identifier_key=self.key)
            read_report = log.report()
        elif isinstance(self.source, dict):
            tables, read_report = self.tables, self.log.report()
        else:
            tables, read_report = read_registry(self.source, self.format, date_format=self.date_format,
                                                identifier_key=self.key)
        if self.site is not None:
            read_report = assign_site(tables, self.site, read_report)
        report = combine(read_report, validate(tables, data_lock=lock))
        if origins is not None:
            from .mapping import in_source_terms  # noqa: PLC0415

            report = in_source_terms(report, origins, self.mapping)
        return tables, report


def _trace(stage: str) -> None:
    """Test seam: ``_trace_hook(stage)`` at each stage of an import's write (``lock_wait``, ``locked``,
    ``deleted``, ``wrote <table>``); the process tests pause or die there, inside the transaction."""
    if _trace_hook is not None:
        _trace_hook(stage)


def _last_import(conn, site: str | None):
    """The import an unchanged source would repeat: the latest of the site, or the latest of all."""
    q = sa.select(imports.c.import_id, imports.c.source_sha256).order_by(imports.c.import_id.desc()).limit(1)
    if site is not None:
        q = q.where(imports.c.import_id.in_(sa.select(import_files.c.import_id)
                                            .where(import_files.c.file == f"site:{site}")))
    return conn.execute(q).first()


def _unchanged_since(conn, site: str | None, import_id: int) -> bool:
    """For a site: every stored patient of the site still comes from that import (no import of the
    site's patients without ``site`` changed them since)."""
    if site is None:
        return True
    P = registry_tables["patients"]
    other = conn.execute(sa.select(sa.func.count()).select_from(P)
                         .where(P.c.site == site, P.c.import_id != import_id)).scalar_one()
    return other == 0


def _is_timeout(exc: Exception) -> bool:
    """PostgreSQL cancelled a statement (SQLSTATE 57014: statement_timeout)."""
    orig = getattr(exc, "orig", exc)
    return getattr(orig, "pgcode", None) == "57014"


def _site_conflicts(conn, patients: pd.DataFrame, import_id: int) -> ValidationReport | None:
    """A patient id already stored for another site is refused (two hospitals, one id)."""
    P = registry_tables["patients"]
    incoming = sa.select(import_patients.c.patient_id).where(import_patients.c.import_id == import_id)
    stored = pd.DataFrame(conn.execute(sa.select(P.c.patient_id, P.c.site, P.c.birth_year)
                                       .where(P.c.patient_id.in_(incoming))).all(),
                          columns=["patient_id", "site", "birth_year"])
    if stored.empty:
        return None
    p = patients.reset_index()
    m = p.merge(stored, on="patient_id", suffixes=("", "_stored"))
    m = m[m["site"] != m["site_stored"]]
    if m.empty:
        return None
    log = ProblemLog()
    log.error("patients", "stored_at_other_site",
              ("patient id already stored for site " + m["site_stored"].astype(str)
               + " (birth year " + m["birth_year_stored"].astype(str) + "); use site-unique ids")
              .reset_index(drop=True),
              rows=m["row"].to_numpy() if "row" in m else None, patient_id=m["patient_id"].to_numpy(),
              field="site", value=m["site"].reset_index(drop=True))
    return log.report()


def _replaced_patients(conn, import_id: int, patients: pd.DataFrame):
    """The stored patients this import replaces: its patient ids, stored for its own site(s).

    The site condition keeps a patient of another site out of the DELETE even if an id conflict
    slipped past the cross-site check (which refuses such an import first)."""
    P = registry_tables["patients"]
    incoming = sa.select(import_patients.c.patient_id).where(import_patients.c.import_id == import_id)
    sites = sorted(patients["site"].dropna().unique().tolist())
    return sa.select(P.c.patient_id).where(P.c.patient_id.in_(incoming), P.c.site.in_(sites))


def _site_patients(site: str):
    """Every stored patient of ``site``: a site's import replaces the whole site."""
    P = registry_tables["patients"]
    return sa.select(P.c.patient_id).where(P.c.site == site)


def _table_counts(conn) -> dict[str, int]:
    return {name: conn.execute(sa.select(sa.func.count()).select_from(registry_tables[name])).scalar_one()
            for name in TABLE_ORDER}


def _replaced_filters(replaced) -> dict[str, sa.ColumnElement]:
    """Per table, the WHERE clause selecting the stored rows of the replaced patients."""
    rt = registry_tables
    treatments_of = sa.select(rt["treatments"].c.treatment_id).where(rt["treatments"].c.patient_id.in_(replaced))
    out = {name: rt[name].c.patient_id.in_(replaced) for name in TABLE_ORDER if name != "complications"}
    out["complications"] = rt["complications"].c.treatment_id.in_(treatments_of)
    return out


def _replaced_counts(conn, replaced) -> dict[str, int]:
    return {name: conn.execute(sa.select(sa.func.count()).select_from(registry_tables[name]).where(cond)).scalar_one()
            for name, cond in _replaced_filters(replaced).items()}


def _deletion_problems(dropped: dict[str, int], rows: dict[str, int], names=_CHILD_TABLES) -> ValidationReport | None:
    """A table empty or absent in the source while the store holds rows of its patients: most likely
    a partial export (a failed query, a forgotten file), so refused unless deletions are allowed."""
    log = ProblemLog()
    for name in names:
        if rows[name] == 0 and dropped[name] > 0:
            log.error(name, "import_deletes_stored_rows",
                      f"the source has no {name} rows, but the store holds {dropped[name]:,} {name} rows of its "
                      f"patients, which this import would delete; if the source is complete (they were deleted at "
                      f"the site), import again with --allow-deletions (allow_deletions=True), else re-export every "
                      f"table", value=str(dropped[name]))
    report = log.report()
    return report if len(report.problems) else None


def _delete_patients(conn, replaced) -> None:
    """Delete the stored rows of the replaced patients, children first (foreign keys)."""
    filters = _replaced_filters(replaced)
    for name in ("complications", "events", "labs", "mdt_decisions", "adverse_events", "treatments", "lesions",
                 "patients"):
        conn.execute(registry_tables[name].delete().where(filters[name]))


def _records(frame: pd.DataFrame, name: str, import_id: int) -> list[dict]:
    """Rows as dicts of plain Python values (None for missing) for executemany."""
    cols, arrays = [], []
    for f in TABLES[name].fields:
        col = frame[f.name]
        if f.type == "date":
            arr = np.where(col.isna().to_numpy(), None, col.dt.date.to_numpy(dtype=object))
        else:
            arr = col.astype(object).where(col.notna(), None).to_numpy(dtype=object)
            if f.type == "float":
                arr = np.array([None if v is None else float(v) for v in arr], dtype=object)
            elif f.type == "int":
                arr = np.array([None if v is None else int(v) for v in arr], dtype=object)
            elif f.type == "bool":
                arr = np.array([None if v is None else bool(v) for v in arr], dtype=object)
        cols.append(f.name)
        arrays.append(arr)
    cols.append("import_id")
    arrays.append(np.full(len(frame), import_id, dtype=object))
    return [dict(zip(cols, vals)) for vals in zip(*arrays)]


def _insert_frame(conn, table: sa.Table, frame: pd.DataFrame, name: str, import_id: int) -> None:
    """Write one registry table inside the open transaction.

    PostgreSQL with psycopg2: ``COPY ... FROM STDIN`` (about 3x faster than batched INSERTs for a
    100,000-patient registry); other databases: executemany INSERTs.
    """
    raw = conn.connection.dbapi_connection
    if conn.dialect.name == "postgresql" and hasattr(raw.cursor(), "copy_expert"):
        out = _export_frame(frame, name)  # ISO dates, 1/0 booleans, None -> unquoted empty field = NULL
        out["import_id"] = import_id
        buf = _io.StringIO()
        out.to_csv(buf, index=False, header=False)
        buf.seek(0)
        cols = ", ".join(f'"{c}"' for c in out.columns)
        with raw.cursor() as cur:
            cur.copy_expert(f'COPY "{table.name}" ({cols}) FROM STDIN WITH (FORMAT csv)', buf)
    elif conn.dialect.name == "sqlite":
        # The driver's executemany on plain tuples: SQLAlchemy's per-row dict processing took two
        # thirds of a 100,000-patient import. Values as SQLAlchemy's SQLite types store them
        # (Date -> 'YYYY-MM-DD' text, Boolean -> 0/1), so reading back goes through SQLAlchemy as usual.
        cols = TABLES[name].field_names + ["import_id"]
        sql = (f'INSERT INTO "{table.name}" ({", ".join(chr(34) + c + chr(34) for c in cols)}) '
               f'VALUES ({", ".join("?" * len(cols))})')
        arrays = [_sqlite_values(frame[f.name], f.type) for f in TABLES[name].fields]
        arrays.append([import_id] * len(frame))
        raw.cursor().executemany(sql, zip(*arrays))
    else:
        _insert(conn, table, _records(frame, name, import_id))


def _sqlite_values(col: pd.Series, type_: str) -> list:
    missing = col.isna().to_numpy()
    if type_ == "date":
        values = col.dt.strftime("%Y-%m-%d").to_numpy(dtype=object)
    elif type_ == "int":
        values = col.astype("Int64").astype(object).to_numpy()
    elif type_ == "bool":
        values = col.astype("boolean").astype(object).to_numpy()
        values = np.array([int(v) if isinstance(v, (bool, np.bool_)) else v for v in values], dtype=object)
    else:
        values = col.astype(object).to_numpy()
    values = values.copy()
    values[missing] = None
    if type_ == "int":
        values = np.array([None if v is None else int(v) for v in values], dtype=object)
    elif type_ == "float":
        values = np.array([None if v is None else float(v) for v in values], dtype=object)
    return values.tolist()


def _insert(conn, table: sa.Table, records: list[dict]) -> None:
    for i in range(0, len(records), _CHUNK):
        conn.execute(table.insert(), records[i:i + _CHUNK])


def _to_contract(frame: pd.DataFrame, name: str) -> pd.DataFrame:
    if frame.empty:
        return empty_table(name).reset_index(drop=True)
    out = {}
    for f in TABLES[name].fields:
        col = frame[f.name]
        if f.type == "date":
            out[f.name] = pd.to_datetime(col).astype("datetime64[ns]")
        elif f.type == "int":
            out[f.name] = pd.array(col.tolist(), dtype="Int64")
        elif f.type == "float":
            out[f.name] = pd.to_numeric(col, errors="coerce").astype(float)
        elif f.type == "bool":
            out[f.name] = pd.array(col.tolist(), dtype="boolean")
        else:
            out[f.name] = col.astype(object).where(col.notna(), None)
    return pd.DataFrame(out)
