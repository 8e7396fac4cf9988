"""Several newsbots on one Milvus archive: one writer at a time, any number of replicas.

The archive (store/milvus_records.py) holds the vectors with their texts and metadata and every
article's full record, each row stamped with the commit that wrote it; its meta collection names
the record store that created it (`store_id`) and the published commit (the chunk, sentence and
records commits, all set together at the end of a push). A local record store follows one
archive: its meta says which (`archive_id`) and the archive commit its content equals
(`archive_commit`).

- Opening: a store that created the archive, or follows it, or is empty (it becomes a replica)
  goes on; an archive with nothing published is taken over by a store with articles. Any other
  store with articles of its own is refused (`ArchiveMismatchError`), never silently replaced.
- Catching up (on open and on every `refresh`): pulls the articles changed after the local
  `archive_commit` up to the published commit and applies them in one SQLite transaction, keeping
  the archive's ids. An archive replaced meanwhile (another `store_id`) is never mixed in: while
  a writer holds the lease the store keeps what it has but refuses questions (`ArchiveBusyError`:
  the collections being refilled reuse its ids), then refuses to follow. Local commits not
  yet in the archive are pushed only by the writer (inside `writing()`, under the local write
  lock), never by a reader.
- Writing: a writer takes the lease (a row in the meta collection: holder, the holder's record
  store, expiry, pushing), catches up, writes locally, pushes after each commit, and releases the
  lease. The lease is held by a process, and marked `pushing` for the whole write: a writer that
  dies before its push leaves the archive to its own data dir. A second writer is refused while
  the lease is live or marked. Milvus has no transactions: the lease is a convention between
  newsbots, not a lock Milvus enforces, and the lease check and take are two requests (a race of
  two writers starting within the same instant is not excluded).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import socket
import sqlite3
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

from retrieval.errors import IndexBusyError, NewsbotError
from retrieval.store import milvus_records
from retrieval.store.milvus_conn import connect, safe_uri
from retrieval.store.records import KINDS

if TYPE_CHECKING:
    from retrieval.store.milvus import MilvusStore
    from retrieval.store.records import RecordStore

log = logging.getLogger("newsbot.store")
LEASE_SECONDS = 600.0
RECORDS_COMMIT = "records_commit"
_COMMIT_KEYS = (RECORDS_COMMIT, *(f"{k}_commit" for k in KINDS))
OnWrite = Callable[[sqlite3.Connection, list[int], list[int]], None]


class ArchiveMismatchError(NewsbotError):
    """The local store has articles of its own and is not a replica of the Milvus archive."""


class ArchiveBusyError(IndexBusyError):
    """Another newsbot holds the archive's writer lease."""


def published(meta: dict[str, str]) -> int:
    """The archive's published commit: what every collection has reached."""
    return min(int(meta.get(key, "0") or 0) for key in _COMMIT_KEYS)


class Lease:
    """The writer lease: one meta row {holder, store, host, pid, expires, pushing}. The holder is
    this process (several processes may use one data dir: a bot answering beside a CLI writer);
    `store` is its record store, which alone may finish a push it left unfinished."""

    KEY = "lease"

    def __init__(
        self, store: MilvusStore, store_id: str, ttl: float = LEASE_SECONDS, clock=time.time
    ) -> None:
        self.store, self.store_id, self.ttl, self.clock = store, store_id, ttl, clock
        self.holder = f"{store_id}:{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex}"
        self.held = 0  # nesting depth
        self.pushing = 0  # the commit of a push under way (0: none)
        self._renewed = 0.0

    def read(self, meta: dict[str, str] | None = None) -> dict:
        """The lease as recorded ({} when free)."""
        value = (meta if meta is not None else self.store.get_meta()).get(self.KEY, "")
        try:
            found = json.loads(value) if value else {}
        except ValueError:
            return {}
        return found if isinstance(found, dict) else {}

    def live_elsewhere(self, meta: dict[str, str]) -> bool:
        """Whether another holder's lease is live (it is writing now)."""
        current = self.read(meta)
        live = float(current.get("expires", 0)) > self.clock()
        return bool(current) and current.get("holder") != self.holder and live

    @property
    def where(self) -> str:
        return f"the Milvus archive '{self.store.target.prefix}_*' at {safe_uri(self.store.target.uri)}"

    def take(self, replace: bool = False) -> None:
        """Hold the lease (re-entrant); ArchiveBusyError while another record store's lease is live,
        or when one left a push unfinished. A lease of this record store is taken over at once (and
        its unfinished push kept marked until finished): its writers are one at a time already (the
        local write lock), so it was left by one that died. `replace` (the archive is about to be
        dropped and built again): an expired lease with an unfinished push is taken over too (its
        data dir may be lost; a live one is still refused)."""
        from retrieval.store.milvus import _guarded

        with _guarded(f"taking the writer lease of {self.where}"):
            self._take(replace)

    def check(self, replace: bool = False) -> None:
        """ArchiveBusyError when `take(replace)` would be refused now (nothing is written)."""
        from retrieval.store.milvus import _guarded

        if self.held:
            return
        with _guarded(f"reading the writer lease of {self.where}"):
            meta = self.store.get_meta()
            self._refuse(meta, self.read(meta), replace)

    def _take(self, replace: bool) -> None:
        if self.held:
            self.held += 1
            return
        meta = self.store.get_meta()
        current = self.read(meta)
        self._refuse(meta, current, replace)
        mine = _store_of(current) == self.store_id
        unfinished = int(current.get("pushing", 0)) > published(meta)
        self.pushing = int(current.get("pushing", 0)) if mine and unfinished else 0
        self._put(pushing=self.pushing)
        if self.read().get("holder") != self.holder:
            raise ArchiveBusyError(f"{self.where}: another newsbot took the writer lease at the same time")
        self.held = 1

    def _refuse(self, meta: dict[str, str], current: dict, replace: bool) -> None:
        """ArchiveBusyError when the lease `current` keeps this holder out (see take)."""
        where = self.where
        mine = _store_of(current) == self.store_id
        unfinished = int(current.get("pushing", 0)) > published(meta)
        if current and current.get("holder") != self.holder and not mine:
            if float(current.get("expires", 0)) > self.clock():
                raise ArchiveBusyError(
                    f"{where} is being written by {_who(current)} until "
                    f"{time.strftime('%Y-%m-%d %H:%M:%S', time.localtime(float(current['expires'])))}; "
                    "one writer at a time: try again when it has finished"
                )
            if unfinished and not replace:
                raise ArchiveBusyError(
                    f"{where} has an unfinished push to commit {current['pushing']} by {_who(current)}; "
                    "write with that data dir (newsbot index, update or remove) to finish it, or rebuild "
                    "the archive "
                    "('newsbot migrate --to milvus --drop' from a complete store)"
                )

    def renew(self, pushing: int | None = None) -> None:
        """Extend the lease (at most every few seconds unless `pushing` changes)."""
        from retrieval.store.milvus import _guarded

        if not self.held:
            return
        if pushing is not None:
            self.pushing = pushing
        if pushing is not None or self.clock() - self._renewed > min(30.0, self.ttl / 4):
            with _guarded(f"renewing the writer lease of {self.where}"):
                self._put(pushing=self.pushing, check=True)

    def release(self) -> None:
        """Give the lease up (after the outermost take). A push that did not finish stays marked, so
        that no other writer publishes over it before this data dir finishes it."""
        from retrieval.store.milvus import _guarded

        if not self.held:
            return
        self.held -= 1
        if self.held == 0:
            with _guarded(f"releasing the writer lease of {self.where}"):
                if self.read().get("holder") != self.holder:
                    return
                if self.pushing:
                    self._put(pushing=self.pushing, ttl=0.0, check=True)
                else:
                    self.store.put_meta({self.KEY: ""})

    def _put(self, *, pushing: int, ttl: float | None = None, check: bool = False) -> None:
        """Write the lease; `check`: only while this process still holds it (ArchiveBusyError when
        another newsbot took it over meanwhile)."""
        if check:
            current = self.read()
            if current and current.get("holder") != self.holder:
                target = self.store.target
                where = f"the Milvus archive '{target.prefix}_*' at {safe_uri(target.uri)}"
                raise ArchiveBusyError(
                    f"{where}: {_who(current)} took the writer lease over from this one (it had expired)"
                )
        now = self.clock()
        value = {
            "holder": self.holder,
            "store": self.store_id,
            "host": socket.gethostname(),
            "pid": os.getpid(),
            "expires": now + (self.ttl if ttl is None else ttl),
            "pushing": int(pushing),
        }
        self.store.put_meta({self.KEY: json.dumps(value)})
        self._renewed = now


def _who(lease: dict) -> str:
    return f"process {lease.get('pid', '?')} on {lease.get('host', '?')}"


def _store_of(lease: dict) -> str:
    """The record store of a lease's holder."""
    return str(lease.get("store") or str(lease.get("holder", "")).split(":")[0])


class ArchiveSync:
    """Keeps a local record store and a Milvus archive level (see the module's docstring)."""

    def __init__(self, store: MilvusStore, records: RecordStore, on_pull: OnWrite | None = None) -> None:
        self.store, self.records, self.on_pull = store, records, on_pull
        self.lease = Lease(store, records.store_id)
        self._writer: int | None = None  # the thread inside writing()
        self.pulled = 0  # articles applied from the archive (tests, reports)
        self.pushed = 0  # articles sent to the archive
        # whether the archive matched this store at the last catch-up (false while another newsbot
        # replaces or rebuilds it: its collections are then not searched), and the meta then read
        self.current = False
        self.meta: dict[str, str] = {}
        self._busy = ""  # the busy message while not current

    @property
    def where(self) -> str:
        return f"the Milvus archive '{self.store.target.prefix}_*' at {safe_uri(self.store.target.uri)}"

    # ---------- opening ----------
    def attach(self) -> dict[str, str]:
        """Check that the local store may follow the archive, adopting it when the store is empty;
        the chunking parameters to use (the archive's). ArchiveMismatchError otherwise."""
        from retrieval.store.milvus import _guarded

        with _guarded(f"reading {self.where}"):
            return self._attach()

    def _attach(self) -> dict[str, str]:
        meta = self.store.get_meta()
        archive_id, records = meta.get("store_id", ""), self.records
        followed, _ = records.archive_state()
        empty = records.commit() == 0 and records.counts()[0] == 0
        if archive_id in (records.store_id, followed):
            pass
        elif empty:
            log.info("%s: this data dir becomes a replica of it", self.where)
            params: dict[str, str] = {k: meta[k] for k in ("chunk_sentences", "chunk_overlap") if k in meta}
            records.set_archive(archive_id, 0, **params)
        elif published(meta) == 0 and not self.lease.read(meta):
            log.warning("%s holds nothing yet; this store takes it over", self.where)
            self.store.put_meta({"store_id": records.store_id})
            archive_id = records.store_id
        else:
            raise ArchiveMismatchError(
                f"{self.where} was built by another record store (id {archive_id}), and the store in "
                f"{records.directory} (id {records.store_id}) has articles of its own: it is not a "
                "replica of that archive. Replace the archive with this store's articles "
                "('newsbot migrate --to milvus --drop'), use another NEWSBOT_MILVUS_COLLECTION, or "
                "start from an empty data dir to replicate the archive"
            )
        if archive_id == records.store_id and "chunk_sentences" not in meta:
            self.store.put_meta({k: records.meta[k] for k in ("chunk_sentences", "chunk_overlap")})
        if followed != archive_id and archive_id == records.store_id:
            records.set_archive(archive_id, 0)
        return {k: records.meta[k] for k in ("chunk_sentences", "chunk_overlap")}

    def replace(self) -> None:
        """Drop the archive (under its lease), create it again for this store and push everything
        (the lease taken again at once: replicas refuse questions meanwhile). An expired lease with a
        push left unfinished by another data dir (lost, perhaps) does not stop it."""
        with self.holding(replace=True):
            log.warning("%s: dropping it to build it again from %s", self.where, self.records.directory)
            self.store.drop_all()
            self.lease.held = 0  # the lease row went with the meta collection
            self.store.create_meta()
            self.lease.take()
            self.records.set_archive(self.records.store_id, 0)
            local = self.records.commit()
            if local:
                self.push(0, local)

    # ---------- staying level ----------
    def catch_up(self, push: bool | None = None) -> bool:
        """Pull what the archive published since this store's archive commit, or (`push`: a writer,
        under the local write lock) push this store's commits the archive lacks; a reader leaves
        those to the writer. By default it pushes only inside writing(), in the thread that writes.
        Whether anything changed locally."""
        from retrieval.store.milvus import _guarded

        if push is None:
            push = self._writer == threading.get_ident()
        with _guarded(f"catching up with {self.where}"):
            return self._catch_up(push)

    def _catch_up(self, push: bool) -> bool:
        self.current = False
        meta = self.meta = self.store.get_meta()
        top = published(meta)
        archive_id, level = self.records.archive_state()
        found_id = meta.get("store_id", "")
        if found_id != archive_id:
            if self.lease.live_elsewhere(meta):
                return self._wait(meta)  # the archive is being replaced (`index --rebuild`)
            raise ArchiveMismatchError(
                f"{self.where} was replaced (it now holds the record store {found_id or 'none'}, this "
                f"data dir follows {archive_id or 'none'}): start the replica again from an empty data dir"
            )
        local = self.records.commit()
        if top < level:
            if self.lease.live_elsewhere(meta):
                return self._wait(meta)  # a writer is rebuilding a collection (`repair`)
            if archive_id != self.records.store_id:
                raise ArchiveMismatchError(
                    f"{self.where} is at commit {top}, older than this replica ({level}): it was "
                    "rebuilt or restored; start the replica again from an empty data dir"
                )
            level = 0  # this store's archive was dropped and created again: send everything
        self.current, self._busy = True, ""
        if local > level:
            if top > level:
                raise ArchiveMismatchError(
                    f"the store in {self.records.directory} has commits {level + 1}..{local} that are not "
                    f"in {self.where}, which meanwhile moved to commit {top} (another writer): the two "
                    "have diverged; start this data dir again empty, or replace the archive with it "
                    "('newsbot migrate --to milvus --drop')"
                )
            if push:
                self.push(level, local)
            return False
        if top > level:
            self.pull(level, top, archive_id)
            return True
        return False

    def _wait(self, meta: dict[str, str]) -> bool:
        """While another newsbot replaces or rebuilds the archive: this store keeps what it has (its
        articles can be listed), but questions are refused (`check_current`): the collections being
        refilled hold other articles under the same ids. Nothing changed locally."""
        self._busy = f"{self.where} is being rebuilt by {_who(self.lease.read(meta))}; try again shortly"
        return False

    def check_current(self) -> None:
        """ArchiveBusyError while the archive does not match this store (last catch-up): its
        collections must not be searched."""
        if not self.current:
            raise ArchiveBusyError(self._busy or f"{self.where} is not level with this store; try again")

    def pull(self, since: int, upto: int, archive_id: str) -> None:
        """Apply the archive's changes after `since` up to `upto` in one local transaction (the
        archive `archive_id`, the one this store follows)."""
        counted = _Counted(milvus_records.pull(self.store, since, upto, self.records.dim))
        self.records.apply_pulled(counted, commit=upto, archive_id=archive_id, on_write=self.on_pull)
        self.pulled += counted.n
        log.info("%s: pulled %d changed articles (commit %d to %d)", self.where, counted.n, since, upto)

    def push(self, since: int, target: int) -> None:
        """Send this store's changes after `since` up to `target` (under the lease), then publish."""
        with self.holding():
            self.lease.renew(pushing=target)
            sent = milvus_records.push(self.store, self.records, since, target, renew=self.lease.renew)
            commits = {key: str(target) for key in _COMMIT_KEYS}
            self.store.put_meta(commits)
            # inside writing() the lease stays marked for the commits still to come
            self.lease.renew(pushing=target + 1 if self._writer is not None else 0)
        archive_id, level = self.records.archive_state()
        if level < target:
            self.records.set_archive(archive_id or self.records.store_id, target)
        self.pushed += sent
        log.info("%s: pushed %d changed articles (commit %d to %d)", self.where, sent, since, target)

    @contextlib.contextmanager
    def holding(self, replace: bool = False) -> Iterator[None]:
        """Hold the writer lease for the block (`replace`: see Lease.take). A release that fails
        does not hide the block's own error."""
        self.lease.take(replace)
        try:
            yield
        except BaseException:
            with contextlib.suppress(Exception):
                self.lease.release()
            raise
        with contextlib.suppress(NewsbotError):
            self.lease.release()

    @contextlib.contextmanager
    def writing(self) -> Iterator[None]:
        """A writer's block: the lease taken, the store caught up first, pushed after. The lease is
        marked `pushing` for the whole block (until the closing push succeeds): a writer killed
        between its local commit and its push leaves the archive to its data dir, not to another
        writer once the lease expires."""
        with self.holding():
            self.catch_up(push=True)
            outer = self.lease.held == 1
            if outer:
                self.lease.renew(pushing=self.records.archive_state()[1] + 1)
                self._writer = threading.get_ident()
            try:
                yield
                self.catch_up(push=True)
            except BaseException:
                if outer and self.records.commit() <= self.records.archive_state()[1]:
                    with contextlib.suppress(NewsbotError):
                        self.lease.renew(pushing=0)  # everything committed here is pushed
                raise
            finally:
                if outer:
                    self._writer = None
            if outer:
                self.lease.renew(pushing=0)


class _Counted:
    """An iterable that counts what it yields."""

    def __init__(self, items) -> None:
        self.items, self.n = items, 0

    def __iter__(self):
        for item in self.items:
            self.n += 1
            yield item


def archive_exists(target) -> bool:
    """Whether the target holds an archive with something published (cheap when a milvus-lite file
    is missing)."""
    from retrieval.store.milvus import _closed_lite, _guarded, _opened_lite, _pymilvus, get_meta

    if target.is_lite and not os.path.exists(target.uri):
        return False
    with _guarded(f"connecting to {safe_uri(target.uri)}"):
        client = connect(_pymilvus(), target.uri, target.token, target.retry)
    path = _opened_lite(target)
    try:
        with _guarded("reading the meta collection"):
            name = f"{target.prefix}_meta"
            if not client.has_collection(name):
                return False
            client.load_collection(name)
            return published(get_meta(client, name)) > 0
    finally:
        with contextlib.suppress(Exception):
            client.close()
        if path:
            _closed_lite(path)
