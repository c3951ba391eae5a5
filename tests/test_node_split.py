"""--num-nodes N --node-rank R: nodes render their shares of one --out at once, finalize makes
the bytes of one run; a missing node is named and simply run again; the locks let node ranks
run together and refuse the same rank twice; bad input is one line."""
import json
import subprocess

from fdsl_cli import SMALL, cli_command, output_bytes, run_cli, usage_error
from fdsl_gen.families import get_family
from fdsl_gen.output import LocalOutput
from fdsl_gen.plan import NodeSplit, Plan

FRACTALDB = ["fractaldb", "--classes", 2, "--filling-rate", 0.05, "--seed", 3, "--search-points", 20000,
             "--points", 3000, "--image-size", 32, "--instances", 12, "--shard-size", 8, "--workers", 1, "--quiet"]


def node(rank, count=2):
    return ["--num-nodes", count, "--node-rank", rank]


def test_two_nodes_at_once_plus_finalize_give_the_bytes_of_one_run(capsys, tmp_path, small_run):
    out = tmp_path / "ds"
    nodes = [subprocess.Popen(cli_command(*SMALL, "--workers", 1, *node(rank), "--out", out), stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for rank in (0, 1)]
    for rank, process in enumerate(nodes):
        stdout, stderr = process.communicate(timeout=300)
        assert process.returncode == 0, stderr
        assert stdout == (f"node rank {rank} of 2: its {4 - rank} of 7 shards are in {out}; when every node has run: "
                          f"fdsl-gen finalize {out}\n")
    assert json.loads((out / "manifest.json").read_text())["status"] == "in-progress"
    assert not (out / "_info.json").exists()
    code, stdout, err = run_cli(capsys, "finalize", out)
    assert code == 0, err
    assert stdout == f"20 samples of 4 classes in 7 shards: {out}\n"
    assert output_bytes(out) == small_run
    assert run_cli(capsys, "verify", out, "--workers", 1)[0] == 0


def test_finalize_names_the_missing_shards_and_a_node_is_simply_run_again(capsys, tmp_path, small_run):
    out = tmp_path / "ds"
    assert run_cli(capsys, *SMALL, "--workers", 1, *node(1), "--out", out)[0] == 0
    code, stdout, err = run_cli(capsys, "finalize", out)
    assert code == 1 and stdout == ""
    assert err == ("fdsl-gen: error: 4 of 7 shards are not complete (shards 0 2 4 6); rerun the node ranks that "
                   "render them (shard i: rank i % --num-nodes), then finalize again\n")
    assert json.loads((out / "manifest.json").read_text())["status"] == "in-progress"
    (out / "visualatom-000002.tar.tmp").write_bytes(b"half a shard")  # node 0 died mid-write
    (out / "visualatom-000003.tar.tmp").write_bytes(b"being written")  # as if node 1 were writing
    assert run_cli(capsys, *SMALL, "--workers", 1, *node(0), "--out", out)[0] == 0
    assert not (out / "visualatom-000002.tar.tmp").exists()  # its own: removed
    (out / "visualatom-000003.tar.tmp").unlink()  # node 1's: left alone
    assert run_cli(capsys, "finalize", out)[0] == 0
    assert output_bytes(out) == small_run
    assert run_cli(capsys, "finalize", out)[0] == 0  # finalize again: the same bytes
    assert output_bytes(out) == small_run


def test_nodes_read_a_class_table_searched_once(capsys, tmp_path, monkeypatch):
    one_run, split = tmp_path / "one", tmp_path / "split"
    assert run_cli(capsys, *FRACTALDB, "--out", one_run)[0] == 0
    assert run_cli(capsys, *FRACTALDB, "--search-only", "--out", split)[0] == 0

    def no_second_search(*args):
        raise AssertionError("a node searched again")

    monkeypatch.setattr(get_family("fractaldb"), "build_class_table", no_second_search)
    for rank in range(3):
        assert run_cli(capsys, *FRACTALDB, *node(rank, 3), "--out", split)[0] == 0
    assert run_cli(capsys, "finalize", split)[0] == 0
    assert output_bytes(split) == output_bytes(one_run)


def test_node_locks_let_ranks_run_together_and_refuse_the_same_rank_twice(capsys, tmp_path):
    out = tmp_path / "ds"
    assert run_cli(capsys, *SMALL, "--workers", 1, *node(0), "--out", out)[0] == 0
    with LocalOutput(out).lock(NodeSplit(2, 0)):  # as if node 0 were rendering still
        code, _, err = run_cli(capsys, *SMALL, "--workers", 1, *node(0), "--out", out)
        assert code == 2 and "node rank 0 of 2 is already being rendered (pid " in err
        assert run_cli(capsys, *SMALL, "--workers", 1, *node(1), "--out", out)[0] == 0  # another rank: welcome
        for args, message in [
            ([*SMALL, "--workers", 1, "--out", out], "is being written by node-split runs (--num-nodes)"),
            ([*SMALL, "--workers", 1, *node(1, 3), "--out", out],
             "is being rendered with --num-nodes 2; every node of one output must use the same --num-nodes"),
            (["finalize", out], "is being written by node-split runs (--num-nodes)"),
        ]:
            code, _, err = run_cli(capsys, *args)
            assert code == 2 and len(err.strip().splitlines()) == 1 and message in err, err
    assert run_cli(capsys, "finalize", out)[0] == 0


def test_bad_node_split_input_is_one_line(capsys, tmp_path):
    out = tmp_path / "ds"
    for args, message in [
        (node(2), "--node-rank must be in [0, 2) for --num-nodes 2, got 2"),
        (node(-1), "--node-rank must be in [0, 2) for --num-nodes 2, got -1"),
        (["--num-nodes", 0], "--num-nodes must be positive, got 0"),
        ([*node(0), "--overwrite"], "--overwrite cannot be used with --num-nodes"),
    ]:
        assert message in usage_error(capsys, out, *SMALL, *args)
    (tmp_path / "junk").mkdir()
    (tmp_path / "junk" / "notes.txt").write_text("mine")
    assert "holds no fdsl manifest; node-split runs need an empty --out" in usage_error(
        capsys, tmp_path / "junk", *SMALL, *node(0))
    for folder, message in [(tmp_path / "missing", "is not a folder"), (tmp_path / "junk", "it has no manifest.json")]:
        code, stdout, err = run_cli(capsys, "finalize", folder)
        assert (code, stdout) == (2, "") and message in err and len(err.strip().splitlines()) == 1


def test_shard_samples_add_up_to_the_dataset_and_node_shares_cover_every_shard_once():
    plan = Plan(num_classes=7, instances_per_class=30, group_size=4, shard_size=20, seed=5)
    counts = [plan.shard_sample_count(s) for s in range(plan.num_shards)]
    assert sum(counts) == plan.num_samples and max(counts) <= 20 and min(counts[:-1]) < 20  # short groups
    shares = [list(NodeSplit(3, rank).shards(10)) for rank in range(3)]
    assert shares == [[0, 3, 6, 9], [1, 4, 7], [2, 5, 8]]
