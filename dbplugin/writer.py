"""Notifiers of incoming messages committed in arrival order, in batches, on a thread of their own.

The mediator relays a message only once its notifiers are committed. To make that fast, the
writer takes every message that is waiting, writes all of them in one transaction and commits
once (SeisComP3 commits each object alone, which bounds it to a few hundred messages a second
on SQLite). When a notifier is refused for its content, the batch is rolled back and written
again with a savepoint around each notifier, so that only the refused ones are left out; they
are logged with their message and counted, and their message is still relayed, as SeisComP3
does.

While the database cannot be reached, the writer keeps the batch, logs, and tries again every
``retry_interval`` seconds, forever: nothing is relayed out of order and nothing is lost. The
mediator bounds how many messages wait (its in-flight window); beyond that it stops taking
messages from the bus, which holds back the senders.

A commit whose answer is lost with the connection may have succeeded: the retry then finds
its public objects present and logs them as refused duplicates, never storing them twice.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import queue
import threading
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

import sqlalchemy as sa

from dbplugin.store import NotifierRejected, NotifierStore
from scmaster3.datamodel import Notifier

log = logging.getLogger(__name__)

# What a database says about a notifier's content, as opposed to its own availability.
CONTENT_ERRORS = (NotifierRejected, sa.exc.IntegrityError, sa.exc.DataError, sa.exc.ProgrammingError)


@dataclass
class StoreResult:
    """What became of one message's notifiers."""

    stored: int = 0
    rejected: list[tuple[Notifier, str]] = field(default_factory=list)


@dataclass
class _Job:
    notifiers: Sequence[Notifier]
    label: str
    future: asyncio.Future[StoreResult]


class DatabaseWriter:
    """Stores notifier lists in order; ``store`` returns once they are committed."""

    def __init__(
        self,
        engine: sa.Engine,
        store: NotifierStore,
        *,
        batch_notifiers: int = 1000,
        retry_interval: float = 1.0,
    ) -> None:
        self._engine = engine
        self._store = store
        self._batch_notifiers = batch_notifiers
        self._retry_interval = retry_interval
        self._jobs: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._operations: Counter[str] = Counter()
        self._outage_since: float | None = None
        self.pending = 0

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="dbplugin-writer", daemon=True)
        self._thread.start()

    def enqueue(self, notifiers: Sequence[Notifier], label: str) -> asyncio.Future[StoreResult]:
        """Queue ``notifiers`` behind everything queued before and return the future of their
        commit; ``label`` names the message in logs. Called from the event loop's thread.

        The queue itself is not bounded: the caller bounds what it has in flight (the mediator
        hands at most its in-flight window of messages to its plugins).
        """
        future: asyncio.Future[StoreResult] = asyncio.get_running_loop().create_future()
        future.add_done_callback(self._done)
        self.pending += 1
        self._jobs.put(_Job(notifiers, label, future))
        return future

    def _done(self, _: asyncio.Future[StoreResult]) -> None:
        self.pending -= 1

    def take_counts(self) -> dict[str, int]:
        """Stored adds, updates, deletes and refused notifiers since the previous call."""
        with self._lock:
            counts = {key: self._operations[key] for key in ("add", "update", "remove", "error")}
            self._operations.clear()
        return counts

    @property
    def unreachable(self) -> bool:
        return self._outage_since is not None

    async def close(self) -> None:
        """Finish what is queued (unless the database is unreachable) and stop the thread."""
        self._stopping.set()
        self._jobs.put(None)
        if self._thread is not None:
            await asyncio.to_thread(self._thread.join)
        self._engine.dispose()

    # -- the writer thread --------------------------------------------------------------------

    def _run(self) -> None:
        stopping = False
        while not stopping:
            batch, stopping = self._take_batch()
            if not batch:
                continue
            results = self._write_until_done(batch)
            if results is None:
                for job in batch:
                    self._settle(job, exception=ConnectionError("database unreachable at shutdown"))
                continue
            for job, result in zip(batch, results, strict=True):
                self._settle(job, result=result)
        # anything still queued at shutdown was never stored: its senders must not see it relayed
        while True:
            try:
                job = self._jobs.get_nowait()
            except queue.Empty:
                break
            if job is not None:
                self._settle(job, exception=ConnectionError("the database writer has stopped"))

    def _take_batch(self) -> tuple[list[_Job], bool]:
        first = self._jobs.get()
        if first is None:
            return [], True
        batch, count = [first], len(first.notifiers)
        while count < self._batch_notifiers:
            try:
                job = self._jobs.get_nowait()
            except queue.Empty:
                break
            if job is None:
                return batch, True
            batch.append(job)
            count += len(job.notifiers)
        return batch, False

    def _settle(self, job: _Job, result: StoreResult | None = None, exception: Exception | None = None) -> None:
        loop = job.future.get_loop()

        def settle() -> None:
            if job.future.done():
                return
            if exception is not None:
                job.future.set_exception(exception)
            else:
                job.future.set_result(result)

        try:
            loop.call_soon_threadsafe(settle)
        except RuntimeError:
            pass  # the event loop is closed: nobody waits for the answer any more

    def _write_until_done(self, batch: list[_Job]) -> list[StoreResult] | None:
        while True:
            try:
                results = self._write(batch)
            except sa.exc.DBAPIError as exc:
                if self._stopping.is_set():
                    log.error("database unreachable while stopping; %d messages not stored: %s",
                              len(batch), _reason(exc))
                    return None
                if self._outage_since is None:
                    self._outage_since = time.monotonic()
                    log.error("database unreachable, holding messages and retrying every %.0f s: %s",
                              self._retry_interval, _reason(exc))
                self._stopping.wait(self._retry_interval)
                continue
            if self._outage_since is not None:
                log.warning("database reachable again after %.1f s; storing %d held messages",
                            time.monotonic() - self._outage_since, self.pending)
                self._outage_since = None
            return results

    def _write(self, batch: list[_Job]) -> list[StoreResult]:
        with self._engine.connect() as connection:
            try:
                with connection.begin():
                    self._store.apply_all(
                        connection, itertools.chain.from_iterable(job.notifiers for job in batch), check_duplicates=False
                    )
            except CONTENT_ERRORS:
                self._store.forget()
                return self._write_one_by_one(connection, batch)
            finally:
                self._store.forget()
        self._count(batch, None)
        return [StoreResult(stored=len(job.notifiers)) for job in batch]

    def _write_one_by_one(self, connection: sa.Connection, batch: list[_Job]) -> list[StoreResult]:
        results = []
        with connection.begin():
            for job in batch:
                result = StoreResult()
                for notifier in job.notifiers:
                    try:
                        with connection.begin_nested():
                            self._store.apply(connection, notifier)
                        result.stored += 1
                    except CONTENT_ERRORS as exc:
                        # the savepoint undid what the store may have remembered
                        self._store.forget()
                        reason = _reason(exc)
                        result.rejected.append((notifier, reason))
                        log.error("error handling %s: %s %s refused: %s", job.label,
                                  notifier.operation.value, _name(notifier), reason)
                results.append(result)
        self._count(batch, results)
        return results

    def _count(self, batch: list[_Job], results: list[StoreResult] | None) -> None:
        with self._lock:
            for index, job in enumerate(batch):
                refused = {id(n) for n, _ in results[index].rejected} if results else set()
                for notifier in job.notifiers:
                    if notifier.object is None:
                        continue
                    key = "error" if id(notifier) in refused else notifier.operation.value
                    self._operations[key] += 1


def _name(notifier: Notifier) -> str:
    obj = notifier.object
    public_id = getattr(obj, "publicID", None)
    return f"{type(obj).__name__} {public_id!r}" if public_id else f"{type(obj).__name__} below {notifier.parentID!r}"


def _reason(exc: BaseException) -> str:
    if isinstance(exc, sa.exc.StatementError) and exc.orig is not None:
        return f"{type(exc.orig).__name__}: {str(exc.orig).splitlines()[0]}"
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__
