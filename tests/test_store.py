"""Learner progress on SQLite and on a real PostgreSQL 15 server (no mock): record, restart, crash,
several processes at once, export → import, and damaged files that must be reported, never rewritten.

The PostgreSQL tests start a throwaway server (tests/pgtools.py); they skip when its binaries are
missing (``make postgres`` installs them), or fail when POSVIZ_REQUIRE_POSTGRES=1.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import sqlite3
import subprocess
import sys
import threading
import time
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
import sqlalchemy as sa

import pgtools
from posviz import store

ROOT = Path(__file__).resolve().parents[1]
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc)
BACKENDS = ["sqlite", "postgresql"]

WORKER = """
import os, sys, time
from posviz import store
url, tag, n, start = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
s = store.open_store(url)
while time.time() < start:
    time.sleep(0.005)
for k in range(n):
    s.record("ann" if k % 2 == 0 else "Bob", f"{tag}-{k}", k, k % 3 == 0)
if sys.argv[5:] == ["crash"]:
    os._exit(3)          # no close, no cleanup: a killed app server
s.close()
"""


@pytest.fixture(scope="module")
def pg_server():
    why = pgtools.available()
    if why:
        if pgtools.REQUIRE:
            pytest.fail(f"POSVIZ_REQUIRE_POSTGRES=1 but {why}", pytrace=False)
        pytest.skip(why)
    with pgtools.server() as url:
        yield url


def _new_pg_database(server_url: str) -> str:
    name = f"t_{uuid.uuid4().hex[:12]}"
    engine = sa.create_engine(store._parse(server_url), isolation_level="AUTOCOMMIT")
    with engine.connect() as con:
        con.execute(sa.text(f'CREATE DATABASE "{name}"'))
    engine.dispose()
    return server_url.rsplit("/", 1)[0] + f"/{name}"


@pytest.fixture
def db_url(request, tmp_path):
    """A fresh, empty database URL of each backend."""
    def make(label: str = "a") -> str:
        if request.param == "sqlite":
            return f"sqlite:///{tmp_path / label / 'progress.db'}"
        return _new_pg_database(request.getfixturevalue("pg_server"))
    make.backend = request.param
    return make


def pytest_generate_tests(metafunc):
    if "db_url" in metafunc.fixturenames:
        metafunc.parametrize("db_url", BACKENDS, indirect=True)


@contextlib.contextmanager
def opened(url: str):
    s = store.open_store(url)
    try:
        yield s
    finally:
        s.close()


def _workers(url: str, tags: list[str], n: int, *extra: str) -> list[subprocess.CompletedProcess]:
    start = time.time() + 6.0  # every process imports first, then all record at once
    procs = [subprocess.Popen([sys.executable, "-c", WORKER, url, tag, str(n), str(start), *extra], cwd=ROOT,
                              env={**os.environ, "PYTHONPATH": str(ROOT)}, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for tag in tags]
    out = []
    for p in procs:
        stdout, stderr = p.communicate(timeout=180)
        out.append(subprocess.CompletedProcess(p.args, p.returncode, stdout, stderr))
    return out


# -- both backends -------------------------------------------------------------------------------

def test_record_and_list_oldest_first(db_url):
    with opened(db_url()) as s:
        s.record("Ada", "ntk_base", 3, True, at=T0 + timedelta(minutes=2))
        s.record("Ada", "alibi_slope", 1, False, at=T0)
        s.record("Ada", "t5_bucket", 2**62, True, at=T0 + timedelta(minutes=1))
        got = s.answers("ada")
    assert [a.item_id for a in got] == ["alibi_slope", "t5_bucket", "ntk_base"]
    assert [a["seed"] for a in got] == [1, 2**62, 3] and [a["correct"] for a in got] == [False, True, True]
    assert all(a.at.tzinfo is not None for a in got) and got[0].at == T0


def test_learner_names_are_keys_without_passwords(db_url):
    with opened(db_url()) as s:
        s.record("  Ada   Lovelace ", "ntk_base", 0, True)
        s.record("ada lovelace", "ntk_base", 1, False)
        s.record("Grace", "ntk_base", 2, True)
        assert len(s.answers("ADA LOVELACE")) == 2 and len(s.answers("grace")) == 1
        assert s.answers("nobody") == []


def test_restart_keeps_everything(db_url):
    url = db_url()
    with opened(url) as s:
        for k in range(5):
            s.record("ada", f"item{k}", k, k % 2 == 0)
    with opened(url) as s:
        assert [a.seed for a in s.answers("ada")] == list(range(5))


def test_a_crashed_process_loses_no_committed_answer(db_url):
    url = db_url()
    with opened(url):
        pass  # create the tables first
    (res,) = _workers(url, ["crash"], 6, "crash")
    assert res.returncode == 3, res.stderr
    with opened(url) as s:
        assert len(s.answers("ann")) == 3 and len(s.answers("bob")) == 3


def test_processes_recording_at_once_lose_and_mix_nothing(db_url):
    url = db_url()
    tags, n = [f"p{k}" for k in range(4)], 40
    results = _workers(url, tags, n)  # the first to open creates the tables, concurrently with the others
    assert all(r.returncode == 0 for r in results), [r.stderr[-2000:] for r in results if r.returncode]
    with opened(url) as s:
        ann, bob = s.answers("ann"), s.answers("bob")
    want_ann = {(f"{t}-{k}", k, k % 3 == 0) for t in tags for k in range(0, n, 2)}
    want_bob = {(f"{t}-{k}", k, k % 3 == 0) for t in tags for k in range(1, n, 2)}
    assert {(a.item_id, a.seed, a.correct) for a in ann} == want_ann and len(ann) == len(want_ann)
    assert {(a.item_id, a.seed, a.correct) for a in bob} == want_bob and len(bob) == len(want_bob)
    assert len({a.uid for a in ann + bob}) == len(ann) + len(bob)


def test_export_then_import_elsewhere(db_url):
    with opened(db_url("a")) as s:
        for k in range(4):
            s.record("Ada", f"item{k}", k, k != 2, at=T0 + timedelta(seconds=k))
        data = json.loads(json.dumps(s.export("ada")))  # what a download and an upload do
    assert data["learner"] == "ada" and len(data["answers"]) == 4
    with opened(db_url("b")) as other:
        assert other.import_(data) == 4
        assert other.import_(data) == 0, "importing the same file twice must add nothing"
        assert [(a.item_id, a.seed, a.correct, a.at, a.uid) for a in other.answers("ada")] == \
               [(d["item_id"], d["seed"], d["correct"], datetime.fromisoformat(d["at"]), d["uid"])
                for d in data["answers"]]
        assert other.import_(data, learner="Grace") == 4 and len(other.answers("grace")) == 4


# -- SQLite specifics ------------------------------------------------------------------------------

def test_sqlite_file_created_on_first_use_in_wal_mode(tmp_path, monkeypatch):
    path = tmp_path / "new" / "folder" / "progress.db"
    monkeypatch.delenv("POSVIZ_DB_URL", raising=False)
    monkeypatch.setenv("POSVIZ_DB", str(path))
    assert not path.exists()
    with opened(None) as s:
        s.record("ada", "ntk_base", 0, True)
        assert path.exists()
        with contextlib.closing(sqlite3.connect(path)) as con:
            assert con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert str(path) in repr(store.open_store(None))


def test_many_openers_of_a_new_file_at_once_all_succeed(tmp_path):
    """A class deployment's workers open one new progress file together. Switching it to WAL needs the file
    to itself, and SQLite then answers "database is locked" at once instead of waiting (the busy timeout does
    not apply): about one round in five failed here before ``store._use_wal`` waited it out. And an opener
    that found the file while another was creating its tables took it for another program's database."""
    def one_round(path: Path) -> list[str]:
        start, failed = threading.Barrier(8), []

        def open_and_record(k: int) -> None:
            start.wait()
            try:
                with opened(f"sqlite:///{path}") as s:
                    s.record("ada", f"item{k}", k, True)
            except store.StoreError as err:
                failed.append(str(err))

        threads = [threading.Thread(target=open_and_record, args=(k,)) for k in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=120)
        return failed

    for r in range(25):
        path = tmp_path / f"round{r}" / "progress.db"
        assert one_round(path) == [], f"round {r}"
        with opened(f"sqlite:///{path}") as s:
            assert len(s.answers("ada")) == 8


def test_posviz_db_url_wins_over_posviz_db(tmp_path, monkeypatch):
    monkeypatch.setenv("POSVIZ_DB", str(tmp_path / "file.db"))
    monkeypatch.setenv("POSVIZ_DB_URL", f"sqlite:///{tmp_path / 'url.db'}")
    with opened(None) as s:
        s.record("ada", "x", 0, True)
    assert (tmp_path / "url.db").exists() and not (tmp_path / "file.db").exists()


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _healthy(path: Path) -> Path:
    with opened(f"sqlite:///{path}") as s:
        for k in range(200):
            s.record("ada", f"item{k}", k, True)
    return path


@pytest.mark.parametrize("damage, message", [
    ("garbage", "is not a SQLite database"),
    ("truncated", "is damaged"),
    ("header only", "is damaged"),
    ("other program", "database of another program"),
])
def test_a_damaged_file_is_reported_and_left_untouched(tmp_path, damage, message):
    path = tmp_path / "progress.db"
    if damage == "garbage":
        path.write_bytes(os.urandom(5000))
    elif damage in ("truncated", "header only"):
        data = _healthy(path).read_bytes()
        path.write_bytes(data[: len(data) // 2] if damage == "truncated" else data[:100])
    else:
        with contextlib.closing(sqlite3.connect(path)) as con:
            con.execute("CREATE TABLE notes (body TEXT)")
            con.execute("INSERT INTO notes VALUES ('mine')")
            con.commit()
    before, files = _digest(path), sorted(p.name for p in tmp_path.iterdir())
    for _ in range(2):  # a retry (the next rerun of a page) changes nothing either
        with pytest.raises(store.StoreError, match=message) as err:
            store.open_store(f"sqlite:///{path}")
        assert str(path) in str(err.value) and "left untouched" in str(err.value)
    assert _digest(path) == before, "the damaged file was modified"
    assert sorted(p.name for p in tmp_path.iterdir()) == files, "files were created next to it"


def test_a_folder_instead_of_a_file(tmp_path):
    (tmp_path / "progress.db").mkdir()
    with pytest.raises(store.StoreError, match="is a folder"):
        store.open_store(f"sqlite:///{tmp_path / 'progress.db'}")


def test_an_empty_file_becomes_a_new_database(tmp_path):
    (tmp_path / "progress.db").touch()
    with opened(f"sqlite:///{tmp_path / 'progress.db'}") as s:
        s.record("ada", "x", 0, True)
        assert len(s.answers("ada")) == 1


def test_a_failing_write_is_reported_not_dropped(tmp_path):
    url = f"sqlite:///{tmp_path / 'progress.db'}"
    with opened(url) as s:
        with contextlib.closing(sqlite3.connect(tmp_path / "progress.db")) as con:
            con.execute("DROP TABLE posviz_answers")
            con.commit()
        with pytest.raises(store.StoreError, match="was not recorded"):
            s.record("ada", "x", 0, True)


@pytest.mark.parametrize("data", [
    None, [], {"format": "other"}, {"format": "posviz-progress", "version": 2, "learner": "a", "answers": []},
    {"format": "posviz-progress", "version": 1, "learner": "a", "answers": "x"},
    {"format": "posviz-progress", "version": 1, "learner": "", "answers": []},
    {"format": "posviz-progress", "version": 1, "learner": "a", "answers": [{"item_id": "x"}]},
    {"format": "posviz-progress", "version": 1, "learner": "a",
     "answers": [{"item_id": "x", "seed": -1, "correct": True, "at": T0.isoformat()}]},
    {"format": "posviz-progress", "version": 1, "learner": "a",
     "answers": [{"item_id": "x", "seed": 1, "correct": "yes", "at": T0.isoformat()}]},
    {"format": "posviz-progress", "version": 1, "learner": "a",
     "answers": [{"item_id": "x", "seed": 1, "correct": True, "at": "2026-03-02T09:00:00"}]},
])
def test_import_refuses_malformed_data(tmp_path, data):
    with opened(f"sqlite:///{tmp_path / 'p.db'}") as s:
        with pytest.raises(ValueError, match="data|learner"):
            s.import_(data)
        assert s.answers("a") == []


def test_record_checks_its_arguments(tmp_path):
    with opened(f"sqlite:///{tmp_path / 'p.db'}") as s:
        for args, name in [(("", "x", 0, True), "learner"), (("a" * 41, "x", 0, True), "learner"),
                           (("a\u200bb", "x", 0, True), "learner"), ((3, "x", 0, True), "learner"),
                           (("ada", "", 0, True), "item_id"), (("ada", "x" * 65, 0, True), "item_id"),
                           (("ada", "x", -1, True), "seed"), (("ada", "x", 1.5, True), "seed"),
                           (("ada", "x", 0, 1), "correct")]:
            with pytest.raises(ValueError, match=name):
                s.record(*args)
        with pytest.raises(ValueError, match="at"):
            s.record("ada", "x", 0, True, at=datetime(2026, 1, 1))
        assert s.answers("ada") == []


@pytest.mark.parametrize("url", ["", "x", "mysql://u@h/db", "sqlite://", "sqlite:///:memory:", "1e999"])
def test_bad_urls_are_value_errors(url):
    with pytest.raises(ValueError, match="url"):
        store.open_store(url)


def test_an_unreachable_server_is_a_clear_message_without_the_password():
    with pytest.raises(store.StoreError, match="Cannot use the progress database") as err:
        store.open_store("postgresql://ada:secret@127.0.0.1:1/progress")
    assert "secret" not in str(err.value) and "Nothing was changed" in str(err.value)
