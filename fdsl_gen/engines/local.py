"""The local engine: tasks on a process pool on this machine (or inline for one worker), and
a parallel map on threads, since the kernels release the GIL."""
import multiprocessing
from collections import deque
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, ThreadPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool

from .base import Engine


class LocalEngine(Engine):
    def __init__(self, workers, retries=1):
        super().__init__(retries)
        self.workers = workers

    def runner(self, task, count):
        if self.workers <= 1 or count <= 1:
            return InlineRunner(task)
        return ProcessPoolRunner(task, min(self.workers, count))

    def parallel_map(self, function, items):
        return thread_map(self.workers)(function, items)


class InlineRunner:
    """Calls run in this process, one at a time, as they are submitted."""

    capacity = 1

    def __init__(self, task):
        self.task = task
        self.outcomes = {}

    def submit(self, item):
        handle = len(self.outcomes)
        try:
            self.outcomes[handle] = (self.task(item), None)
        except Exception as e:
            self.outcomes[handle] = (None, e)
        return handle

    def next_finished(self, handles):
        return (handles[0], *self.outcomes.pop(handles[0]))

    def close(self):
        pass


class ProcessPoolRunner:
    """Calls run in ``workers`` spawned processes that receive the task once. A worker that
    dies (killed, out of memory) breaks the whole pool: the calls it had in flight fail (and
    are retried) and the next submit starts a fresh pool."""

    def __init__(self, task, workers):
        self.task, self.workers = task, workers
        self.capacity = 2 * workers  # one running and one waiting per worker
        self.pool = None
        self.pool_of = {}  # future -> the pool that runs it

    def submit(self, item):
        if self.pool is None:
            self._start_pool()
        try:
            future = self.pool.submit(_call_in_process, item)
        except BrokenProcessPool:  # a worker died since the last result came
            self._start_pool()
            future = self.pool.submit(_call_in_process, item)
        self.pool_of[future] = self.pool
        return future

    def _start_pool(self):
        if self.pool is not None:
            self.pool.shutdown(wait=False)
        # spawn, not fork: the parent may hold threads (search) and numba state
        self.pool = ProcessPoolExecutor(self.workers, multiprocessing.get_context("spawn"),
                                        initializer=_init_process, initargs=(self.task,))

    def next_finished(self, futures):
        done, _ = wait(futures, return_when=FIRST_COMPLETED)
        future = next(f for f in futures if f in done)
        pool = self.pool_of.pop(future)
        error = future.exception()
        if isinstance(error, BrokenProcessPool) and pool is self.pool:
            self.pool.shutdown(wait=False)
            self.pool = None
        return future, None if error else future.result(), error

    def close(self):
        if self.pool is not None:
            self.pool.shutdown(wait=True, cancel_futures=True)  # lets the shards being written finish


_task = None  # the task of this worker process


def _init_process(task):
    global _task
    _task = task


def _call_in_process(item):
    return _task(item)


def thread_map(workers):
    """An ordered, lazy parallel map on ``workers`` threads: ``parallel_map(function, items)``
    yields ``function(item)`` in the order of ``items``, keeping at most 2 x workers calls in
    flight, and pulls items only as it needs them (``items`` may be endless). For kernels that
    release the GIL. Closing the iterator cancels what has not started."""

    def parallel_map(function, items):
        pool = ThreadPoolExecutor(max_workers=max(1, workers))
        in_flight = deque()
        try:
            for item in items:
                in_flight.append(pool.submit(function, item))
                if len(in_flight) >= 2 * max(1, workers):
                    yield in_flight.popleft().result()
            while in_flight:
                yield in_flight.popleft().result()
        finally:
            pool.shutdown(wait=True, cancel_futures=True)

    return parallel_map
