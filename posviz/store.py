"""Learner progress: every graded answer, kept in a database through SQLAlchemy Core.

``open_store(url=None)`` returns a :class:`Store`. ``url=None`` means ``POSVIZ_DB_URL`` when it is
set (``postgresql://user@host/db`` for a class: several app servers share one database), else a
SQLite file at ``POSVIZ_DB`` (default ``~/.posviz/progress.db``), created on first use, in WAL mode
so several processes can read while one writes.

Learners are keyed by the name they pick (trimmed, spaces collapsed, case folded): there are no
passwords, and anyone who types the same name shares the progress. Each answer gets a random
``uid``; importing an export twice adds nothing the second time (importing it under
another name copies it).

Progress is never dropped silently. A database that cannot be read (a file of garbage, a truncated
file, another program's SQLite file, an unreachable server) raises :class:`StoreError` with a
message that says what is wrong and where; the file is never rewritten, repaired or reset. The
checks on an existing SQLite file run on a read-only connection before anything writes to it.
"""

from __future__ import annotations

import math
import os
import sqlite3
import time
import unicodedata
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql as pg_dialect
from sqlalchemy.dialects import sqlite as sqlite_dialect
from sqlalchemy.engine import make_url

from . import backend

DEFAULT_DB = Path("~/.posviz/progress.db")
SCHEMA_VERSION = "1"
EXPORT_FORMAT = "posviz-progress"
MAX_NAME = 40                 # characters of a learner name
MAX_ITEM_ID = 64
MAX_IMPORT = 100_000          # answers in one import
MAX_URL = 2000
RETRIES = 3                   # attempts at a write that hits a transient database error
SQLITE_MAGIC = b"SQLite format 3\x00"
_PG_LOCK = 7_310_512          # advisory lock id: one creator of the tables at a time

metadata = sa.MetaData()
ANSWERS = sa.Table(
    "posviz_answers", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("uid", sa.String(36), nullable=False),
    sa.Column("learner", sa.String(4 * MAX_NAME), nullable=False),
    sa.Column("item_id", sa.String(MAX_ITEM_ID), nullable=False),
    sa.Column("seed", sa.BigInteger, nullable=False),
    sa.Column("correct", sa.Boolean, nullable=False),
    sa.Column("at", sa.Double, nullable=False),            # seconds since 1970, UTC
    sa.Index("ix_posviz_answers_learner", "learner", "at"),
    sa.UniqueConstraint("learner", "uid", name="uq_posviz_answers_learner_uid"),
)
META = sa.Table("posviz_meta", metadata, sa.Column("key", sa.String(32), primary_key=True),
                sa.Column("value", sa.String(64), nullable=False))


class StoreError(RuntimeError):
    """The progress database cannot be used; the message says why and where. Nothing was changed."""


@dataclass(frozen=True)
class Answer:
    """One recorded answer. Reads as attributes (``a.item_id``) or keys (``a["item_id"]``)."""
    learner: str
    item_id: str
    seed: int
    correct: bool
    at: datetime           # timezone-aware, UTC
    uid: str

    def __getitem__(self, key: str):
        if key not in self.__dataclass_fields__:
            raise KeyError(key)
        return getattr(self, key)

    def as_json(self) -> dict:
        return {"item_id": self.item_id, "seed": self.seed, "correct": self.correct, "at": self.at.isoformat(),
                "uid": self.uid}


def learner_key(learner) -> str:
    """The key a learner name is stored under: trimmed, inner spaces collapsed, case folded.

    At most ``MAX_NAME`` characters, no control or invisible format characters.
    """
    if not isinstance(learner, str):
        raise ValueError(f"learner must be a name (text), got {type(learner).__name__}")
    name = " ".join(unicodedata.normalize("NFKC", learner).split())
    if not name:
        raise ValueError("learner must be a non-empty name")
    if len(name) > MAX_NAME:
        raise ValueError(f"learner must be at most {MAX_NAME} characters, got {len(name)}")
    if any(unicodedata.category(c).startswith("C") for c in name):
        raise ValueError("learner must not contain control or invisible characters")
    return name.casefold()


def _check_item_id(item_id) -> str:
    if not isinstance(item_id, str) or not item_id or len(item_id) > MAX_ITEM_ID:
        raise ValueError(f"item_id must be text of 1 to {MAX_ITEM_ID} characters, got {item_id!r:.60}")
    return item_id


def _time(at) -> float:
    """A timezone-aware datetime (or None: now) as UTC seconds."""
    if at is None:
        return time.time()
    if not isinstance(at, datetime) or at.tzinfo is None:
        raise ValueError(f"at must be a timezone-aware datetime, got {at!r:.60}")
    return at.timestamp()


def _safe(url: sa.URL) -> str:
    return url.render_as_string(hide_password=True)


def _first_line(err: BaseException) -> str:
    text = str(getattr(err, "orig", None) or err).strip().splitlines()
    return text[0] if text else type(err).__name__


# -- opening ---------------------------------------------------------------------------------

def _default_url() -> str:
    if os.environ.get("POSVIZ_DB_URL"):
        return os.environ["POSVIZ_DB_URL"]
    path = Path(os.environ.get("POSVIZ_DB") or DEFAULT_DB).expanduser()
    return f"sqlite:///{path.resolve()}"


def _parse(url) -> sa.URL:
    if not isinstance(url, str) or not url.strip() or len(url) > MAX_URL:
        raise ValueError(f"url must be a database URL such as sqlite:///path/progress.db or "
                         f"postgresql://user@host/db, got {url!r:.60}")
    try:
        parsed = make_url(url.strip())
    except Exception:  # noqa: BLE001 - sqlalchemy raises ArgumentError and others for junk
        raise ValueError(f"url must be a database URL such as sqlite:///path/progress.db or "
                         f"postgresql://user@host/db, got {url!r:.60}") from None
    backend_name = parsed.get_backend_name()
    if backend_name == "postgresql":
        return parsed.set(drivername="postgresql+psycopg")
    if backend_name == "sqlite":
        if not parsed.database or parsed.database == ":memory:":
            raise ValueError("url must name a SQLite file (sqlite:///path/progress.db): an in-memory database "
                             "would lose every answer when the app stops")
        return parsed.set(drivername="sqlite")
    raise ValueError(f"url must be a sqlite:// or postgresql:// URL, got the {backend_name!r} backend")


def _check_sqlite_file(path: Path) -> None:
    """Refuse a file that is not a healthy posviz database, reading it only (read-only connection)."""
    where = f"The progress file {path}"
    keep = ("It was left untouched: move it aside (or set POSVIZ_DB to another path) to start a new one, "
            "or restore it from a backup.")
    if path.is_dir():
        raise StoreError(f"{where} is a folder, not a database file. Set POSVIZ_DB to a file path.")
    try:
        with open(path, "rb") as f:
            head = f.read(len(SQLITE_MAGIC))
    except OSError as err:
        raise StoreError(f"{where} cannot be read ({err.strerror}). {keep}") from None
    if not head:
        return  # an empty file is a new database
    if head != SQLITE_MAGIC:
        raise StoreError(f"{where} is not a SQLite database (it starts with other bytes). {keep}")
    # immutable: no lock files, nothing written next to it; only while no other process has a WAL open
    immutable = "&immutable=1" if not Path(f"{path}-wal").exists() else ""
    try:
        con = sqlite3.connect(f"{path.as_uri()}?mode=ro{immutable}", uri=True, timeout=30)
    except sqlite3.Error as err:
        raise StoreError(f"{where} cannot be opened ({err}). {keep}") from None
    try:
        check = [row[0] for row in con.execute("PRAGMA quick_check")]
        tables = {row[0] for row in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        version = None
        if META.name in tables:
            version = con.execute(f"SELECT value FROM {META.name} WHERE key = 'schema'").fetchone()
    except sqlite3.Error as err:
        raise StoreError(f"{where} is damaged ({err}). {keep}") from None
    finally:
        con.close()
    if check != ["ok"]:
        raise StoreError(f"{where} is damaged (SQLite's check reports: {'; '.join(map(str, check[:3]))}). {keep}")
    if tables - {META.name} and ANSWERS.name not in tables:  # our meta table alone: another opener is creating it
        raise StoreError(f"{where} is a SQLite database of another program (no {ANSWERS.name} table). {keep}")
    if version is not None and version[0] != SCHEMA_VERSION:
        raise StoreError(f"{where} was written by another posviz version (schema {version[0]}, this one reads "
                         f"{SCHEMA_VERSION}). {keep}")


def _sqlite_engine(url: sa.URL) -> sa.Engine:
    path = Path(url.database).expanduser()
    if path.exists():
        _check_sqlite_file(path)
    else:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            raise StoreError(f"Cannot create the folder {path.parent} for the progress file ({err.strerror}). "
                             "Set POSVIZ_DB to a writable path.") from None
    engine = sa.create_engine(url.set(database=str(path)), connect_args={"timeout": 30})

    @sa.event.listens_for(engine, "connect")
    def _pragmas(dbapi_con, _record):
        dbapi_con.execute("PRAGMA busy_timeout = 30000")
        _use_wal(dbapi_con)
        dbapi_con.execute("PRAGMA synchronous = FULL")  # a commit survives a power cut, not only a crash

    return engine


def _use_wal(dbapi_con: sqlite3.Connection, wait_s: float = 30.0) -> None:
    """Put the file in WAL mode (readers never block the writer), waiting out other processes.

    Switching the journal mode needs the file to itself, and SQLite answers "database is locked" at once
    instead of calling the busy handler: processes opening a new file together (a class deployment's
    workers) would fail. WAL mode is stored in the file, so a file already in it is left alone.
    """
    deadline, pause = time.monotonic() + wait_s, 0.01
    while True:
        try:
            if dbapi_con.execute("PRAGMA journal_mode").fetchone()[0].lower() != "wal":
                dbapi_con.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as err:
            if "locked" not in str(err) or time.monotonic() > deadline:
                raise
            time.sleep(pause)
            pause = min(2 * pause, 0.25)


def _create(engine: sa.Engine) -> None:
    """Create the tables if they are missing (concurrent creators are safe) and stamp the schema."""
    insert = (pg_dialect.insert if engine.dialect.name == "postgresql" else sqlite_dialect.insert)(META)
    with engine.begin() as con:
        if engine.dialect.name == "postgresql":
            con.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_LOCK})
        for table in (ANSWERS, META):  # answers first: a file with tables always has it or only ours
            con.execute(sa.schema.CreateTable(table, if_not_exists=True))
            for index in table.indexes:
                con.execute(sa.schema.CreateIndex(index, if_not_exists=True))
        con.execute(insert.values(key="schema", value=SCHEMA_VERSION).on_conflict_do_nothing())
        version = con.execute(sa.select(META.c.value).where(META.c.key == "schema")).scalar_one()
    if version != SCHEMA_VERSION:
        raise StoreError(f"The progress database was written by another posviz version (schema {version}, this "
                         f"one reads {SCHEMA_VERSION}); it was left untouched.")


def open_store(url: str | None = None) -> "Store":
    """The progress store at ``url`` (None: ``POSVIZ_DB_URL``, else the SQLite file ``POSVIZ_DB``).

    Creates the file and tables on first use. A database that cannot be read raises
    :class:`StoreError` (nothing is changed); a malformed ``url`` is a ValueError naming it.
    """
    parsed = _parse(_default_url() if url is None else url)
    engine = _sqlite_engine(parsed) if parsed.get_backend_name() == "sqlite" else \
        sa.create_engine(parsed, pool_pre_ping=True)
    try:
        _create(engine)
    except StoreError:
        engine.dispose()
        raise
    except Exception as err:  # noqa: BLE001 - driver errors of every kind become one clear message
        engine.dispose()
        raise StoreError(f"Cannot use the progress database at {_safe(parsed)}: {_first_line(err)}. "
                         "Nothing was changed.") from None
    return Store(engine, _safe(parsed))


# -- the store -------------------------------------------------------------------------------

def _row(r) -> Answer:
    return Answer(r.learner, r.item_id, int(r.seed), bool(r.correct), datetime.fromtimestamp(r.at, timezone.utc),
                  r.uid)


class Store:
    """Record, list, export and import one learner's answers. Thread-safe (one pooled engine)."""

    def __init__(self, engine: sa.Engine, where: str):
        self.engine = engine
        self.where = where

    def __repr__(self) -> str:
        return f"Store({self.where})"

    def _write(self, rows: list[dict]) -> int:
        """Insert rows, skipping (learner, uid) pairs already stored; retry transient errors; return how many were
        added."""
        dialect = pg_dialect if self.engine.dialect.name == "postgresql" else sqlite_dialect
        for attempt in range(RETRIES):
            try:
                added = 0
                with self.engine.begin() as con:
                    for start in range(0, len(rows), 500):
                        stmt = dialect.insert(ANSWERS).on_conflict_do_nothing(index_elements=["learner", "uid"])
                        added += len(con.execute(stmt.returning(ANSWERS.c.uid), rows[start:start + 500]).all())
                return added
            except sa.exc.OperationalError as err:
                if attempt == RETRIES - 1:
                    raise StoreError(f"Could not save to the progress database at {self.where}: "
                                     f"{_first_line(err)}. The answer was not recorded.") from None
                time.sleep(0.2 * 2 ** attempt)
            except sa.exc.SQLAlchemyError as err:
                raise StoreError(f"Could not save to the progress database at {self.where}: {_first_line(err)}. "
                                 "The answer was not recorded.") from None
        return 0  # not reached

    def record(self, learner: str, item_id: str, seed: int, correct: bool, *, at: datetime | None = None,
               uid: str | None = None) -> Answer:
        """Store one graded answer (committed before this returns) and return it."""
        key = learner_key(learner)
        row = dict(uid=uid or str(uuid.uuid4()), learner=key, item_id=_check_item_id(item_id),
                   seed=backend.check_seed("seed", seed), correct=backend.check_bool("correct", correct),
                   at=_time(at))
        self._write([row])
        return Answer(key, row["item_id"], row["seed"], row["correct"],
                      datetime.fromtimestamp(row["at"], timezone.utc), row["uid"])

    def answers(self, learner: str) -> list[Answer]:
        """Every answer of ``learner``, oldest first."""
        key = learner_key(learner)
        query = sa.select(ANSWERS).where(ANSWERS.c.learner == key).order_by(ANSWERS.c.at, ANSWERS.c.id)
        try:
            with self.engine.connect() as con:
                return [_row(r) for r in con.execute(query)]
        except sa.exc.SQLAlchemyError as err:
            raise StoreError(f"Could not read the progress database at {self.where}: {_first_line(err)}.") from None

    def export(self, learner: str) -> dict:
        """The learner's progress as plain JSON-ready data (see :meth:`import_`)."""
        return export_answers(learner, self.answers(learner))

    def import_(self, data, learner: str | None = None) -> int:
        """Add the answers of an export (to ``learner``, or to the name it was exported under).

        Answers this learner already has (same uid) are skipped, so importing twice changes nothing.
        Returns how many answers were added. Malformed data is a ValueError naming ``data``.
        """
        if not isinstance(data, dict) or data.get("format") != EXPORT_FORMAT or data.get("version") != 1:
            raise ValueError(f"data must be a posviz progress export (format '{EXPORT_FORMAT}', version 1)")
        answers = data.get("answers")
        if not isinstance(answers, list) or len(answers) > MAX_IMPORT:
            raise ValueError(f"data must hold a list 'answers' of at most {MAX_IMPORT} answers")
        key = learner_key(data.get("learner") if learner is None else learner)
        rows = [_import_row(k, a, key) for k, a in enumerate(answers)]
        return self._write(rows) if rows else 0

    def close(self) -> None:
        self.engine.dispose()


def export_answers(learner: str, answers) -> dict:
    """An export of ``answers`` (``Answer`` objects, oldest first) under ``learner``: what
    :meth:`Store.export` writes and :meth:`Store.import_` reads, JSON-ready."""
    key = learner_key(learner)
    if not isinstance(answers, (list, tuple)) or not all(isinstance(a, Answer) for a in answers):
        raise ValueError("answers must be a list of posviz.store.Answer")
    return {"format": EXPORT_FORMAT, "version": 1, "learner": key,
            "exported_at": datetime.now(timezone.utc).isoformat(), "answers": [a.as_json() for a in answers]}


def _import_row(k: int, a, key: str) -> dict:
    bad = f"data answer {k} must have item_id (text), seed (integer >= 0), correct (true/false) and at (ISO time)"
    if not isinstance(a, dict):
        raise ValueError(bad)
    try:
        at = datetime.fromisoformat(a["at"]) if isinstance(a.get("at"), str) else None
    except ValueError:
        at = None
    uid, seed, item_id = a.get("uid"), a.get("seed"), a.get("item_id")
    ok = (at is not None and at.tzinfo is not None and math.isfinite(at.timestamp())
          and isinstance(seed, int) and not isinstance(seed, bool) and 0 <= seed <= backend.MAX_SEED
          and isinstance(a.get("correct"), bool) and isinstance(item_id, str) and 0 < len(item_id) <= MAX_ITEM_ID
          and (uid is None or isinstance(uid, str) and 0 < len(uid) <= 36))
    if not ok:
        raise ValueError(bad)
    return dict(uid=uid or str(uuid.uuid4()), learner=key, item_id=a["item_id"], seed=a["seed"],
                correct=a["correct"], at=at.timestamp())
