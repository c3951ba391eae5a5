"""fdsl-gen preview: a contact sheet from the shards, or rendered from the manifest when there
are none yet, and a static gallery page that a real browser shows."""
import io
import os
import subprocess

import numpy as np
import pytest
from PIL import Image

from fdsl_cli import read_samples, run_cli
from fdsl_gen import manifest as manifests, preview
from fdsl_gen.worker import sample_key

FRACTALDB = ["fractaldb", "--classes", 3, "--filling-rate", 0.05, "--search-points", 20000, "--points", 2000,
             "--image-size", 40, "--instances", 12, "--shard-size", 8]
REPLAY = ["visualatom", "--mode", "replay", "--threads", 2, "--classes", 4, "--instances", 6, "--image-size", 40,
          "--line-num-max", 5, "--shard-size", 7]  # render groups of 6 instances
DEADLEAVES = ["deadleaves", "--shape", "mixed", "--images", 7, "--image-size", 40, "--shard-size", 3]
CHROMIUM = "/usr/bin/chromium"


def sheet(capsys, out, *args):
    code, stdout, stderr = run_cli(capsys, "preview", out, "--thumb", 32, *args)
    assert code == 0, stderr
    return stdout


def images_of(out):
    return {key: np.array(Image.open(io.BytesIO(sample["png"]))) for key, sample in read_samples(out).items()}


def cell(picture, row, column, rows, thumb=32):
    layout = preview.Layout(max(len(cells) for _, cells in rows), [1] * len(rows), thumb, 0)
    x, y = layout.cell(row, column)
    return np.array(picture)[y:y + thumb, x:x + thumb]


@pytest.mark.parametrize("args", [FRACTALDB, REPLAY], ids=["fractaldb", "visualatom-replay"])
def test_the_sheet_from_shards_is_the_sheet_rendered_from_the_manifest(capsys, tmp_path, args):
    complete, table = tmp_path / "complete", tmp_path / "table"
    assert run_cli(capsys, *args, "--workers", 1, "--quiet", "--out", complete)[0] == 0
    assert run_cli(capsys, *args, "--search-only", "--quiet", "--out", table)[0] == 0
    assert ": 12 images in 3 rows, read from the shards" in sheet(capsys, complete, "--classes", 3, "--per-class", 4)
    assert ": 12 images in 3 rows, rendered from the manifest" in sheet(capsys, table, "--classes", 3, "--per-class", 4)
    assert (complete / "preview.png").read_bytes() == (table / "preview.png").read_bytes()


def test_rows_are_classes_with_their_key_parameters_and_spread_instances(capsys, tmp_path):
    out = tmp_path / "fdb"
    assert run_cli(capsys, *FRACTALDB, "--workers", 1, "--quiet", "--out", out)[0] == 0
    manifest = manifests.read(out)
    rows = preview.choose_rows(manifest, classes=5, per_class=4)
    assert rows == [([f"class {c}", f"maps {len(manifest['classes'][c]['params'])}"],
                     [(c, k) for k in (0, 3, 6, 9)]) for c in range(3)]
    sheet(capsys, out, "--classes", 5, "--per-class", 4, "--out", tmp_path / "sheet.png")
    picture = Image.open(tmp_path / "sheet.png")
    images = images_of(out)
    for row, (_, cells) in enumerate(rows):
        for column, (class_index, instance) in enumerate(cells):
            expected = preview.thumbnail(images[sample_key(class_index, instance)], 32)
            assert np.array_equal(cell(picture, row, column, rows), np.array(expected))

    manifest = {"labelled": True, "family": "visualatom", "instances_per_class": 1, "num_classes": 1,
                "classes": [{"q": 337, "K": 146, "eta": 3.3875, "w": 0.1, "n1": 3, "n2": 15}]}
    assert preview.choose_rows(manifest, 1, 1)[0][0] == ["class 0", "q 337", "K 146", "eta 3.39", "n1 3", "n2 15"]


def test_an_unlabelled_set_is_a_grid_of_its_first_images(capsys, tmp_path):
    out = tmp_path / "dl"
    assert run_cli(capsys, *DEADLEAVES, "--workers", 1, "--quiet", "--out", out)[0] == 0
    rows = preview.choose_rows(manifests.read(out), classes=2, per_class=4)
    assert [label for label, _ in rows] == [["images 0-3"], ["images 4-6"]]
    sheet(capsys, out, "--classes", 2, "--per-class", 4)
    picture = Image.open(out / "preview.png")
    images = images_of(out)
    for row, (_, cells) in enumerate(rows):
        for column, (index, _) in enumerate(cells):
            expected = preview.thumbnail(images[sample_key(index, 0)], 32)
            assert np.array_equal(cell(picture, row, column, rows), np.array(expected))


@pytest.fixture
def gallery(capsys, tmp_path):
    out, folder = tmp_path / "dl", tmp_path / "gallery"
    assert run_cli(capsys, *DEADLEAVES, "--workers", 1, "--quiet", "--out", out)[0] == 0
    code, stdout, stderr = run_cli(capsys, "preview", out, "--html", folder, "--classes", 2, "--per-class", 4)
    assert code == 0, stderr
    assert stdout == f"{folder}/index.html: 7 images in 2 rows, read from the shards\n"
    assert not (out / "preview.png").exists()  # only --html: no sheet
    return out, folder


def test_the_gallery_holds_each_sample_png(gallery):
    out, folder = gallery
    page = (folder / "index.html").read_text()
    samples = read_samples(out)
    for index in range(7):
        name = sample_key(index, 0) + ".png"
        assert f'src="images/{name}"' in page
        assert (folder / "images" / name).read_bytes() == samples[sample_key(index, 0)]["png"]
    assert "<h2>images 4-6</h2>" in page and "fdsl-gen deadleaves --shape mixed --images 7" in page


def test_the_gallery_shows_in_headless_chromium(gallery, tmp_path):
    if not os.path.exists(CHROMIUM):
        pytest.skip(f"no {CHROMIUM} (Debian's chromium package) to show the gallery in")
    _, folder = gallery
    screenshot = tmp_path / "screenshot.png"
    subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                    "--disable-component-update", "--disable-sync", "--no-first-run",
                    f"--user-data-dir={tmp_path / 'profile'}", "--window-size=800,600",
                    f"--screenshot={screenshot}", (folder / "index.html").as_uri()],
                   check=True, capture_output=True, timeout=120)
    pixels = np.asarray(Image.open(screenshot).convert("RGB")).astype(int)
    assert pixels.std() > 10  # not blank
    # the dead leaves are coloured, the page is shades of grey: the images did load (seen here:
    # 21% coloured pixels; 1% with the images missing, from the broken-image icons)
    coloured = (pixels.max(axis=2) - pixels.min(axis=2)) > 60
    assert coloured.mean() > 0.1, coloured.mean()


@pytest.mark.parametrize("args, message", [
    ([], "is not an fdsl dataset"),
    (["--classes", 0], "--classes must be at least 1, got 0"),
    (["--per-class", -1], "--per-class must be at least 1, got -1"),
])
def test_bad_input_is_one_line(capsys, tmp_path, args, message):
    out = tmp_path / "ds"
    if args:
        assert run_cli(capsys, *FRACTALDB, "--search-only", "--quiet", "--out", out)[0] == 0
    else:
        out.mkdir()
    code, stdout, stderr = run_cli(capsys, "preview", out, *args)
    assert code == 2 and stdout == "" and len(stderr.splitlines()) == 1 and message in stderr
    assert not (out / "preview.png").exists()


def test_a_missing_shard_is_named(capsys, tmp_path):
    out = tmp_path / "fdb"
    assert run_cli(capsys, *FRACTALDB, "--workers", 1, "--quiet", "--out", out)[0] == 0
    for shard in out.glob("*.tar"):
        shard.unlink()
    code, _, stderr = run_cli(capsys, "preview", out)
    assert code == 1 and len(stderr.splitlines()) == 1 and f"run fdsl-gen verify {out}" in stderr
