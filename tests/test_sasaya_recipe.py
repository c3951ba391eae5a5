"""examples/sasaya_recipe.py, the Sasaya et al. recipe with its baselines, end to end at a tiny size:
every command runs and succeeds, the split is what it says, and the table has every row."""

import importlib.util
import json
from pathlib import Path

import pytest

from fdsl_gen.manifest import read as read_manifest

pytestmark = pytest.mark.usefixtures("torch_one_thread")
SCRIPT = Path(__file__).resolve().parents[1] / "examples" / "sasaya_recipe.py"
ROWS = ("from scratch", "MoCo v2 on the N = 20 real images", "MoCo v2 on PatchShuffle, D = 2, M = 4",
        "MoCo v2 on RandomCrop, D = 2, M = 4", "MoCo v2 on PatchShuffle + RandomCrop, D = 2, M = 4")


def load_recipe():
    spec = importlib.util.spec_from_file_location("sasaya_recipe", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def recipe():
    return load_recipe()


def files_of(folder):
    return sorted(str(path.relative_to(folder)) for path in folder.glob("*/*"))


def test_the_recipe_runs_every_command_and_prints_the_table(recipe, tmp_path, capsys):
    work = tmp_path / "work"
    results = recipe.main(["--work", str(work), "--per-class", "2", "--per-image", "4", "--model", "test_resnet",
                           "--moco-epochs", "1", "--moco-batch", "8", "--finetune-epochs", "2", "--finetune-batch", "4",
                           "--finetune-lr", "0.01,0.002",
                           "--workers", "0", "--quiet"])
    out, err = capsys.readouterr()

    commands = [line[2:].split()[:2] for line in out.splitlines() if line.startswith("$ ")]
    finetune_twice_then_evaluate = [["fdsl-train", "finetune"]] * 2 + [["fdsl-train", "evaluate"]]
    assert commands == [["fdsl-train", "digits"]] + [["fdsl-gen", "patches"]] * 3 + finetune_twice_then_evaluate \
        + ([["fdsl-train", "moco"]] + finetune_twice_then_evaluate) * 4
    table = out[out.index("| pre-training"):].splitlines()
    assert [line.split(" | ")[0].lstrip("| ") for line in table[2:7]] == list(ROWS)
    assert "warning" not in err  # each queue fits its set

    # The split: 2 per class picked from train/, one to each half; the digits' val/ held out
    fewshot, digits = work / "fewshot", work / "digits"
    train, val, everything = files_of(fewshot / "train"), files_of(fewshot / "val"), files_of(fewshot / "all")
    assert len(train) == len(val) == 10 and sorted(train + val) == everything
    assert {name.split("/")[0] for name in train} == {name.split("/")[0] for name in val} == set("0123456789")
    assert all((fewshot / "all" / name).read_bytes() == (digits / "train" / name).read_bytes() for name in everything)
    for generators in ("patchshuffle", "randomcrop", "patchshuffle+randomcrop"):
        manifest = read_manifest(str(work / f"patches-{generators}"))
        assert sorted(entry["path"] for entry in manifest["classes"]) == everything
        assert manifest["num_samples"] == 20 * 4

    assert results["N"] == 20 and [row["pre-training"] for row in results["rows"]] == list(ROWS)
    assert json.loads((work / "results.json").read_text())["rows"] == results["rows"]
    real, *synthetic = results["rows"][1:]
    assert real["images"] == 20 and real["steps"] == 4 * (20 // 8)  # M times the epochs: about the same steps
    assert all(row["images"] == 80 and row["steps"] == 80 // 8 and row["queue"] == 40 for row in synthetic)
    assert all(row["test_images"] == 360 and 0 <= row["test_top1"] <= 100 for row in results["rows"])
    for row in results["rows"]:  # the lr of the best final validation top-1, the first of equals
        assert [tried["lr"] for tried in row["tried"]] == [0.01, 0.002]
        assert row["lr"] == max(row["tried"], key=lambda tried: tried["val_top1"])["lr"]
        assert row["output"].endswith(f"-lr{row['lr']:g}")


def test_the_subset_is_seeded_and_balanced(recipe, digits, tmp_path):
    def pick(seed, out):
        assert recipe.pick_fewshot(digits / "train", 4, seed, out) == 40
        return files_of(out / "all")

    picks = [pick(seed, tmp_path / str(run)) for run, seed in enumerate((0, 0, 1))]
    assert picks[0] == picks[1] != picks[2]
    assert len(picks[0]) == 40 and all(sum(name.startswith(f"{digit}/") for name in picks[0]) == 4 for digit in range(10))


def test_an_odd_count_per_class_is_a_usage_error(recipe, capsys):
    with pytest.raises(SystemExit) as exit_info:
        recipe.main(["--per-class", "3"])
    assert exit_info.value.code == 2
    assert "--per-class must be an even number" in capsys.readouterr().err
