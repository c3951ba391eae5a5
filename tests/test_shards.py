"""The shard writer: standard ustar bytes, atomic files."""
import io
import os
import tarfile

import pytest

from fdsl_gen.output import LocalOutput
from fdsl_gen.shards import write_atomic, write_shard, write_tar

SAMPLES = [
    ("000001_000002", [("cls", b"1"), ("json", b'{"a":1}'), ("png", bytes(range(256)) * 5)]),
    ("000003_000004", [("cls", b"3"), ("json", b"{}"), ("png", b"")]),
]


def test_tar_bytes_equal_tarfile_ustar_with_fixed_metadata():
    ours = io.BytesIO()
    size, _ = write_tar(ours, SAMPLES)
    reference = io.BytesIO()
    with tarfile.open(fileobj=reference, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        for key, members in SAMPLES:
            for extension, data in members:
                info = tarfile.TarInfo(f"{key}.{extension}")
                info.size, info.mtime, info.mode, info.uname, info.gname = len(data), 0, 0o644, "", ""
                tar.addfile(info, io.BytesIO(data))
    assert ours.getvalue() == reference.getvalue() and size == len(reference.getvalue())


def test_member_names_over_100_bytes_are_refused():
    with pytest.raises(ValueError):
        write_tar(io.BytesIO(), [("k" * 100, [("png", b"")])])


def test_shard_appears_whole_or_not_at_all(tmp_path):
    stats = write_shard(LocalOutput(tmp_path), "x-000000.tar", SAMPLES)
    assert os.listdir(tmp_path) == ["x-000000.tar"]
    assert stats["samples"] == 2 and stats["bytes"] == os.path.getsize(tmp_path / "x-000000.tar")

    def fail(file):
        file.write(b"partial")
        raise RuntimeError("killed")

    with pytest.raises(RuntimeError):
        write_atomic(str(tmp_path / "y-000000.tar"), fail)
    assert not (tmp_path / "y-000000.tar").exists()  # only the .tmp, which resume removes
