"""Run shard tasks on a local process pool (or inline for one worker), and the local parallel
map that families use for parallel work inside a task."""
import multiprocessing
from collections import deque
from concurrent.futures import ThreadPoolExecutor

from .. import worker
from ..errors import GenerationError, OutputError


def run(family, plan, out, name, shards, workers, on_done):
    """Render ``shards``; ``on_done(stats)`` is called in the parent as each one completes."""
    if workers <= 1 or len(shards) <= 1:
        worker.init_process(family, plan, out, name)
        for shard in shards:
            on_done(worker.render_shard_in_process(shard))
        return
    # spawn, not fork: the parent may hold threads (search) and numba state
    context = multiprocessing.get_context("spawn")
    pool = context.Pool(min(workers, len(shards)), worker.init_process, (family, plan, out, name))
    try:
        for stats in pool.imap_unordered(worker.render_shard_in_process, shards):
            on_done(stats)
        pool.close()
    except OutputError:
        raise
    except Exception as e:
        raise GenerationError(f"a worker failed: {type(e).__name__}: {e}") from e
    finally:
        pool.terminate()
        pool.join()


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
