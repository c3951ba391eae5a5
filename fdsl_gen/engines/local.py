"""Run shard tasks on a local process pool (or inline for one worker)."""
import multiprocessing

from .. import worker
from ..errors import GenerationError


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
    except Exception as e:
        raise GenerationError(f"a worker failed: {type(e).__name__}: {e}") from e
    finally:
        pool.terminate()
        pool.join()
