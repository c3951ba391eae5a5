"""The engine interface, the shape of img2dataset's distributors.

An engine runs a picklable task (for a generation ``worker.ShardTask``: render one shard) over
items (shard indices) on its workers, keeps a bounded number in flight, retries a failed call
``retries`` times, and reports each result as it comes (``on_done``). It also offers the
ordered, lazy ``parallel_map`` that families get for parallel work in a search or a
``prepare``. Planning, resume and the manifest stay in generate.py whatever the engine.

An engine is a context manager: entering starts or joins what it runs on (the Ray engine
connects to its cluster), leaving stops what it started. An engine supplies a runner per
``run``: ``capacity`` (calls in flight at most), ``submit(item)`` -> handle,
``next_finished(handles)`` -> (handle, result, error) and ``close()``.
"""
import os
from collections import Counter, deque

from ..errors import GenerationError, OutputError, UsageError, first_line


def default_workers():
    """The cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def create_engine(name, workers=None, retries=1, ray_address=None):
    """The engine called ``name`` (local or ray); ``workers`` None means all cores (local) or
    the cluster's CPUs (ray)."""
    if workers is not None and workers < 1:
        raise UsageError(f"--workers must be positive, got {workers}")
    if retries < 0:
        raise UsageError(f"--retries must be 0 or more, got {retries}")
    if name == "local":
        if ray_address is not None:
            raise UsageError("--ray-address needs --engine ray")
        from .local import LocalEngine

        return LocalEngine(workers or default_workers(), retries)
    if name == "ray":
        from .ray import RayEngine

        return RayEngine(workers, retries, ray_address)
    raise UsageError(f"--engine must be local or ray, got {name!r}")


def one_line(error):
    """``Type: first line of its message``, for errors that travel back from workers."""
    return f"{type(error).__name__}: {first_line(error)}"


class Engine:
    def __init__(self, retries=1):
        self.retries = retries

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        pass

    def runner(self, task, count):
        """A runner for ``count`` calls of ``task``."""
        raise NotImplementedError

    def parallel_map(self, function, items):
        """Yield ``function(item)`` for each of ``items``, in order, computed in parallel with
        a bounded look-ahead: items are pulled only as needed (``items`` may be endless), and
        closing the iterator stops the work ahead."""
        raise NotImplementedError

    def run(self, task, items, on_done, on_retry=None):
        """Call ``task(item)`` for every item on the engine's workers; ``on_done(result)`` is
        called here as each call ends, in the order they end. A call that fails (it raised,
        or its worker died) is run again, up to ``retries`` times, each reported by
        ``on_retry(description, error)``; then a GenerationError names the item and the error.
        An OutputError (an I/O fault: the user must act, it says how) or a UsageError stands
        at once: running again would meet it again."""
        queue = deque(items)
        if not queue:
            return
        describe = getattr(task, "describe", str)
        failures = Counter()
        runner = self.runner(task, len(queue))
        running = {}
        try:
            while queue or running:
                while queue and len(running) < runner.capacity:
                    item = queue.popleft()
                    running[runner.submit(item)] = item
                handle, result, error = runner.next_finished(list(running))
                item = running.pop(handle)
                if error is None:
                    on_done(result)
                    continue
                failures[item] += 1
                if isinstance(error, (OutputError, UsageError)) or failures[item] > self.retries:
                    raise _failure(describe(item), error, failures[item])
                if on_retry is not None:
                    on_retry(describe(item), error)
                queue.append(item)
        finally:
            runner.close()


def _failure(what, error, attempts):
    if isinstance(error, (OutputError, UsageError)):
        return error
    tries = "once" if attempts == 1 else f"{attempts} times"
    return GenerationError(f"{what} failed {tries}, the last time with {one_line(error)}; "
                           "rerun the same command to resume")
