"""A non-editable install (a built wheel in a fresh venv), run from another folder: the console
scripts exist and the published recipes ship inside the package."""
import json
import os
import subprocess
import sys
import sysconfig
import venv
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def run(command, **kwargs):
    done = subprocess.run([str(part) for part in command], capture_output=True, text=True, timeout=600, **kwargs)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    return done


def test_wheel_in_a_fresh_venv_renders_a_named_recipe(tmp_path):
    wheels = tmp_path / "wheels"
    run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation", "--wheel-dir", wheels, REPO],
        cwd=tmp_path)
    (wheel,) = wheels.glob("fdsl-*.whl")
    fresh = tmp_path / "venv"
    venv.create(fresh, with_pip=True)
    # The dependencies (numpy, numba, torch, ...) are this environment's: only fdsl is under test.
    site = run([fresh / "bin" / "python", "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"]).stdout
    Path(site.strip(), "dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    run([fresh / "bin" / "python", "-m", "pip", "install", "--quiet", "--no-deps", "--no-index", wheel])

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    environment = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    where = run([fresh / "bin" / "python", "-c", "import fdsl_gen, fdsl_train; print(fdsl_gen.__file__)"],
                cwd=elsewhere, env=environment).stdout
    assert where.startswith(str(fresh))  # the installed copy, not the checkout
    listed = run([fresh / "bin" / "fdsl-gen", "recipes"], cwd=elsewhere, env=environment).stdout
    assert "fractaldb-1k" in listed and "visualatom-1k" in listed
    run([fresh / "bin" / "fdsl-gen", "fractaldb", "--recipe", "fractaldb-1k", "--classes", 1, "--instances", 4,
         "--image-size", 32, "--points", 2000, "--workers", 1, "--quiet", "--out", "fdb"], cwd=elsewhere, env=environment)
    manifest = json.loads((elsewhere / "fdb" / "manifest.json").read_text())
    assert manifest["status"] == "complete" and manifest["config"]["filling_rate"] == 0.2
    assert manifest["shards"][0]["file"] == "fractaldb-1k-000000.tar"  # the recipe's name
    assert run([fresh / "bin" / "fdsl-train", "--help"], cwd=elsewhere, env=environment).stdout
