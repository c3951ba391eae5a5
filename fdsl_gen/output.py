"""Where a dataset is written: a local folder, or an fsspec URL (s3://, gs://, ...).

Both kinds offer the same few operations on names relative to the output (``manifest.json``,
``.fdsl/NAME-000000.tar.json``): whole-or-nothing writes, reads, sizes, listings, removal and
the run's lock. Everything that reads or writes a dataset goes through them.

- A local folder (a path or a ``file://`` URL) writes a temporary file, fsyncs and renames
  it, and is locked with flock (see ``LocalOutput.lock``).
- An object store has no atomic rename: a file is written under a temporary key, then copied
  to its final key and the temporary key removed. A shard's completion record is written
  after its shard, so a record always means a whole shard (resume reads only records). There
  is no lock: see ``ObjectStoreOutput.lock``.
"""
import contextlib
import fcntl
import glob
import os

from .errors import GenerationError, OutputError, UsageError, first_line
from .shards import TMP_SUFFIX, write_atomic

STATE_DIR = ".fdsl"  # per-shard completion records, read by resume and finalize; the locks
LOCK = "lock"  # in STATE_DIR: every run holds it, node-split runs shared, others exclusively
NODE_LOCK = "lock-node-{rank}-of-{count}"  # in STATE_DIR: held by the run of one node rank


def open_output(out):
    """The output ``out`` names: a LocalOutput for a path or file:// URL, else an
    ObjectStoreOutput."""
    if out.startswith("file://"):
        return LocalOutput(out[len("file://"):])
    if "://" in out:
        return ObjectStoreOutput(out)
    return LocalOutput(out)


def state_name(name):
    return f"{STATE_DIR}/{name}"


def record_name(file_name):
    """The completion record of shard ``file_name``."""
    return state_name(file_name + ".json")


class LocalOutput:
    def __init__(self, path):
        self.root = os.path.abspath(path)  # workers elsewhere (a Ray cluster) have another cwd

    def __str__(self):
        return self.root

    def location(self, name):
        return os.path.join(self.root, name)

    def create(self):
        """Create the folder and its state folder, and check that it can be written."""
        if os.path.exists(self.root) and not os.path.isdir(self.root):
            raise UsageError(f"--out {self.root} exists and is not a folder")
        try:
            os.makedirs(self.location(STATE_DIR), exist_ok=True)
            probe = self.location(state_name("write-test"))
            with open(probe, "w"):
                pass
            os.remove(probe)
        except OSError as e:
            raise UsageError(f"cannot write to --out {self.root}: {e.strerror}") from None

    def is_folder(self):
        return os.path.isdir(self.root)

    def write_atomic(self, name, write, tmp_name=None):
        """``name`` whole or not at all; ``write`` is bytes or a function filling a binary file.
        ``tmp_name``: the temporary's name when writers of one name must not share it."""
        tmp = self.location(tmp_name) if tmp_name else None
        return write_atomic(self.location(name), write, tmp)

    def read_bytes(self, name):
        """The bytes of ``name``; FileNotFoundError if there is none."""
        with open(self.location(name), "rb") as f:
            return f.read()

    def size(self, name):
        """The size of ``name``, or None if there is none."""
        try:
            return os.path.getsize(self.location(name))
        except OSError:
            return None

    def entries(self, folder=""):
        """{name: size in bytes, None for a folder} of what ``folder`` holds (nothing when it
        does not exist): one listing, where asking entry by entry would cost a request each
        in an object store."""
        try:
            with os.scandir(self.location(folder)) as listing:
                return {e.name: None if e.is_dir() else e.stat().st_size for e in listing}
        except FileNotFoundError:
            return {}

    def remove(self, name):
        os.remove(self.location(name))

    @contextlib.contextmanager
    def lock(self, node=None):
        """Hold the advisory locks of a run for its duration, so that two runs never write the
        same shards: a run takes ``.fdsl/lock`` exclusively; the node-split runs of ``node``
        (a NodeSplit) take it shared, so that they do not refuse each other, and the lock of
        their rank exclusively. The kernel drops a lock when its process ends, however it
        ends, so a killed run never blocks the next one. (flock: local file systems and NFS;
        not every network file system honours it.)"""
        with contextlib.ExitStack() as held:
            if node is None or node.count == 1:
                descriptor = self._flock(LOCK, fcntl.LOCK_EX)
                held.callback(os.close, descriptor)
                _write_holder(descriptor)
            else:
                descriptor = self._flock(LOCK, fcntl.LOCK_SH)
                held.callback(os.close, descriptor)
                os.ftruncate(descriptor, 0)  # its holders are node runs: no pid to name
                self._refuse_other_splits(node)
                descriptor = self._flock(NODE_LOCK.format(rank=node.rank, count=node.count), fcntl.LOCK_EX, node)
                held.callback(os.close, descriptor)
                _write_holder(descriptor)
            yield

    def _flock(self, name, operation, node=None):
        descriptor = os.open(self.location(state_name(name)), os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(descriptor, operation | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(descriptor, 32, 0).decode(errors="replace").strip()
            os.close(descriptor)
            if node is not None:
                raise UsageError(f"--out {self.root}: {node} is already being rendered (pid {holder}); "
                                 "wait for it to finish or stop it, then rerun") from None
            if not holder:
                raise UsageError(f"--out {self.root} is being written by node-split runs (--num-nodes); "
                                 "wait for them to finish or stop them, then rerun") from None
            raise UsageError(f"--out {self.root} is being written by another fdsl-gen (pid {holder}); "
                             "wait for it to finish or stop it, then rerun") from None
        return descriptor

    def _refuse_other_splits(self, node):
        """Runs that split the shards over another number of nodes would render some of the
        same shards: refuse while one of them holds its rank's lock."""
        for path in glob.glob(self.location(state_name(NODE_LOCK.format(rank="*", count="*")))):
            count = path.rsplit("-of-", 1)[1]
            if count == str(node.count):
                continue
            descriptor = os.open(path, os.O_RDWR)
            try:
                fcntl.flock(descriptor, fcntl.LOCK_SH | fcntl.LOCK_NB)
            except BlockingIOError:
                raise UsageError(f"--out {self.root} is being rendered with --num-nodes {count}; every node "
                                 "of one output must use the same --num-nodes") from None
            finally:
                os.close(descriptor)


def _write_holder(descriptor):
    os.ftruncate(descriptor, 0)
    os.pwrite(descriptor, f"{os.getpid()}\n".encode(), 0)


class ObjectStoreOutput:
    """An fsspec URL. The file system is made on first use in each process (the object
    travels to workers as its URL); credentials and endpoints come from the usual places of
    its package (for S3: AWS_* variables, ~/.aws, AWS_ENDPOINT_URL for another S3 server)."""

    def __init__(self, url):
        self.url = url.rstrip("/")
        self._fs = None

    def __getstate__(self):
        return {"url": self.url, "_fs": None}

    def __str__(self):
        return self.url

    @property
    def fs(self):
        return self._file_system()[0]

    def key(self, name):
        return f"{self._file_system()[1]}/{name}"

    def _file_system(self):
        """(the fsspec file system, the output's path in it), made on first use."""
        if self._fs is None:
            try:
                import fsspec
            except ImportError:
                raise UsageError(f"--out {self.url} needs fsspec and the package of its protocol: "
                                 "pip install 'fdsl[s3]' (or 'fdsl[gcs]')") from None
            try:
                self._fs, self._root = fsspec.core.url_to_fs(self.url)
            except (ImportError, ValueError) as e:
                raise UsageError(f"--out {self.url}: {first_line(e)}") from None
        return self._fs, self._root

    def location(self, name):
        return f"{self.url}/{name}"

    def create(self):
        """Check that the store can be written (the bucket must exist: object stores have no
        folders to make)."""
        probe = self.key(state_name("write-test"))
        try:
            self.fs.pipe_file(probe, b"")
            self.fs.rm_file(probe)
        except UsageError:
            raise
        except Exception as e:
            raise UsageError(f"cannot write to --out {self.url}: {first_line(e)}") from None

    def is_folder(self):
        return True  # a prefix exists as soon as something is written under it

    def write_atomic(self, name, write, tmp_name=None):
        """Write ``name`` under a temporary key, then copy it to its final key (the only way
        an object store has to make a key appear whole)."""
        key = self.key(name)
        tmp = self.key(tmp_name) if tmp_name else key + TMP_SUFFIX
        try:
            with self.fs.open(tmp, "wb") as f:
                result = f.write(write) if isinstance(write, bytes) else write(f)
            self.fs.mv(tmp, key)
        except Exception as e:  # the store's package has its own error types (botocore, aiohttp, ...)
            with contextlib.suppress(Exception):
                self.fs.rm_file(tmp)
            raise OutputError.writing(self.location(name), _as_os_error(e)) from None
        return result

    def read_bytes(self, name):
        try:
            return self.fs.cat_file(self.key(name))
        except FileNotFoundError:
            raise
        except Exception as e:
            raise GenerationError(f"cannot read {self.location(name)}: {first_line(e)}") from None

    def size(self, name):
        self.fs.invalidate_cache()  # other processes write here: never trust a listing cache
        try:
            return self.fs.size(self.key(name))
        except FileNotFoundError:
            return None
        except Exception as e:
            raise GenerationError(f"cannot read {self.location(name)}: {first_line(e)}") from None

    def entries(self, folder=""):
        self.fs.invalidate_cache()
        prefix = self.key(folder).rstrip("/")
        try:
            listing = self.fs.ls(prefix, detail=True)
        except FileNotFoundError:
            return {}
        except Exception as e:
            raise GenerationError(f"cannot list {self.location(folder)}: {first_line(e)}") from None
        return {entry["name"].rstrip("/").rsplit("/", 1)[-1]: None if entry["type"] == "directory" else entry["size"]
                for entry in listing if entry["name"].rstrip("/") != prefix}

    def remove(self, name):
        try:
            self.fs.rm_file(self.key(name))
        except FileNotFoundError:
            pass
        except Exception as e:
            raise OutputError.writing(self.location(name), _as_os_error(e)) from None

    @contextlib.contextmanager
    def lock(self, node=None):
        """No lock: object stores have nothing like flock. Run each command (each node rank)
        once at a time; the batch scheduler's job array does that."""
        yield


def _as_os_error(error):
    """An OSError for OutputError's message: the store's own, or one carrying its text."""
    if isinstance(error, OSError) and (error.errno or error.strerror):
        return error
    return OSError(0, first_line(error))
