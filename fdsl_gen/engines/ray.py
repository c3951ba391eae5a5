"""The Ray engine: one Ray task per shard on a Ray cluster, a bounded number in flight.

Ray is an optional extra (pip install 'fdsl[ray]'), imported only when this engine is made.
Entering the engine joins the Ray of this process if it already has one (``ray.init`` done by
a caller), else connects to ``address`` (``auto``: the cluster this machine belongs to;
HOST:PORT: a head node's GCS), else starts a local Ray with ``workers`` CPUs (default: this
machine's cores). Leaving stops only a Ray it started. Every node of the cluster needs fdsl
installed (the same version) and must reach the output: a path on a shared file system or
an object-store URL.

Ray's own retries are off (``max_retries=0``): failures are retried by ``Engine.run``, the
same way for every engine. The task is put into the object store once per run and loaded once
per worker, not sent with each shard.
"""
import logging
import os
import socket
from collections import deque

from ..errors import UsageError, first_line
from .base import Engine, default_workers

CONNECT_TIMEOUT = 5  # seconds to reach HOST:PORT before calling it unreachable


def _ray():
    try:
        import ray
    except ImportError:
        raise UsageError("--engine ray needs Ray, an optional extra: pip install 'fdsl[ray]'") from None
    return ray


_loaded = {}  # in a Ray worker: the task of the run it last served, by object id


def _call(task_in_store, item):
    """Run ``task(item)``. The task comes as an object-store reference inside a list (so Ray
    does not load it for every call) and is loaded once per worker and run: a family with a
    large class table (VisualAtom-21k: 2.7 MB, ~25 ms to load) costs nothing per shard."""
    (ref,) = task_in_store
    if ref.hex() not in _loaded:
        import ray

        _loaded.clear()
        _loaded[ref.hex()] = ray.get(ref)
    return _loaded[ref.hex()](item)


class RayEngine(Engine):
    def __init__(self, workers=None, retries=1, address=None):
        super().__init__(retries)
        self.ray = _ray()
        if address is not None:
            _check_address(address)
        self.workers, self.address = workers, address
        self.started = False

    def __enter__(self):
        ray = self.ray
        if not ray.is_initialized():
            options = dict(logging_level=logging.ERROR, log_to_driver=False)
            os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")  # no usage reports from a tool's runs
            if self.address is None:
                ray.init(address="local", num_cpus=self.workers or default_workers(), include_dashboard=False,
                         **options)
            else:
                try:
                    ray.init(address=self.address, **options)
                except ConnectionError as e:
                    raise UsageError(f"--ray-address {self.address}: {first_line(e)}") from None
            self.started = True
        cpus = max(1, int(ray.cluster_resources().get("CPU", 1)))
        # with --ray-address, --workers caps the shards rendered at once; else one running and one
        # waiting per CPU, so that no CPU idles while a result travels back
        self.capacity = self.workers if self.address is not None and self.workers else 2 * cpus
        self.remote_call = ray.remote(num_cpus=1, max_retries=0)(_call)
        return self

    def __exit__(self, *exc_info):
        if self.started:
            self.ray.shutdown()
            self.started = False

    def runner(self, task, count):
        return RayRunner(self, task)

    def parallel_map(self, function, items):
        # Tasks still in flight when the iterator is closed run to their end, unread: cancelling
        # a Ray task interrupts its worker, and the interrupt can land in the next task it runs.
        ray = self.ray
        function_in_store = [ray.put(function)]
        in_flight = deque()
        for item in items:
            in_flight.append(self.remote_call.remote(function_in_store, item))
            if len(in_flight) >= self.capacity:
                yield ray.get(in_flight.popleft())
        while in_flight:
            yield ray.get(in_flight.popleft())


class RayRunner:
    """After a failure, the shard tasks still running are left to finish (a finished shard is
    kept by the resume), not cancelled (see parallel_map)."""

    def __init__(self, engine, task):
        self.ray, self.remote_call, self.capacity = engine.ray, engine.remote_call, engine.capacity
        self.task_in_store = [self.ray.put(task)]

    def submit(self, item):
        return self.remote_call.remote(self.task_in_store, item)

    def next_finished(self, refs):
        ray = self.ray
        (ref,), _ = ray.wait(refs, num_returns=1)
        try:
            return ref, ray.get(ref), None
        except ray.exceptions.RayTaskError as e:  # the task raised: its own exception
            return ref, None, e.cause if e.cause is not None else e
        except ray.exceptions.RayError as e:  # its worker or node died, its result was lost, ...
            return ref, None, e

    def close(self):
        pass


def _check_address(address):
    """auto, or a HOST:PORT that answers: ray.init would wait for minutes on one that does not."""
    if address == "auto" or "://" in address:
        return
    host, _, port = address.rpartition(":")
    if not host or not port.isdigit():
        raise UsageError(f"--ray-address must be auto or HOST:PORT, got {address!r}")
    try:
        socket.create_connection((host, int(port)), timeout=CONNECT_TIMEOUT).close()
    except OSError as e:
        raise UsageError(f"--ray-address {address}: cannot reach a Ray cluster there ({e.strerror or e})") from None
