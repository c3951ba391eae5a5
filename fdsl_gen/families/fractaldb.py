"""FractalDB: IFS fractal categories (Kataoka et al., ACCV 2020).

Category search and point rendering follow the reference scripts exactly (see the spec in
../shared/specs/fractaldb.md); patch masks come from a seeded generator of ours.

Instance enumeration within a class: instance k is flip k % 4 of render k // 4, and render j
is weight row j % 25 of draw j // 25. So the first 100 instances are one draw of every weight
variant in all four flips (the point-mode set), the next 100 the second draw, and so on.
"""
import math
import os
from decimal import Decimal
from functools import lru_cache

import numpy as np

from ..class_tables import read_csv_folder, read_manifest_classes
from ..errors import UsageError
from ..raster import ifs, mt19937
from .base import Family, Option, Paper, register_family, seed_option

WEIGHT_ROWS = 25
FLIPS = 4
SEARCH_SIZE = 512  # the reference search renders candidates on a 512 x 512 canvas ...
SEARCH_PAD = 6  # ... with this padding
SELECTION_SEED = 100  # every render reuses RandomState(100) for its map selections
POINT_VALUE = 127
SEARCH_BATCH = 256  # candidates per evaluation task

def weight_multipliers(step):
    """The 25 x 6 weight rows of the reference weight file for ``step``, in its row order.

    Multipliers are decimal literals (as the reference files store them): 1 - 2*0.4 is 0.2,
    not 0.19999999999999996. A multiplier of exactly 0 is stored as 0.01, as in the
    reference's 0.5 file."""
    w = Decimal(repr(float(step)))
    low2, low1, high1, high2 = (float(m) or 0.01 for m in (1 - 2 * w, 1 - w, 1 + w, 1 + 2 * w))
    rows = []
    for parameter in range(6):
        for multiplier in (low2, low1, high1, high2):
            row = [1.0] * 6
            row[parameter] = multiplier
            rows.append(row)
    rows.insert(2, [1.0] * 6)
    return np.array(rows)


@lru_cache(maxsize=4)
def selection_draws(points):
    draws = np.random.RandomState(SELECTION_SEED).random_sample(points)
    draws.flags.writeable = False
    return draws


def _min_filled_pixels(filling_rate, size):
    """Smallest pixel count c with c / size**2 >= filling_rate, in the reference's float test."""
    total = size * size
    count = max(1, math.ceil(filling_rate * total))
    while count > 1 and (count - 1) / total >= filling_rate:
        count -= 1
    while count / total < filling_rate:
        count += 1
    return count


def search_classes(num_classes, filling_rate, seed, points, parallel_map=map, on_progress=None):
    """The reference category search: returns (``num_classes`` accepted tables as N x 7
    arrays, candidates examined).

    The stream is replayed sequentially and cheaply (numbers drawn, selection draws only
    twisted over), a batch of candidates at a time; ``parallel_map`` evaluates the batches
    (the kernels release the GIL), each fill count stopping early."""
    state = mt19937.legacy_state(seed)
    enough = _min_filled_pixels(filling_rate, SEARCH_SIZE)

    def candidate_batches():
        while True:
            yield ifs.draw_candidates(state, SEARCH_BATCH, points)

    def evaluate(batch):
        tables, map_counts, states = batch
        return tables, map_counts, ifs.filled_enough(tables, map_counts, states, points, SEARCH_SIZE, SEARCH_PAD, enough)

    accepted = []
    examined = 0
    verdicts = parallel_map(evaluate, candidate_batches())
    try:
        for tables, map_counts, verdict in verdicts:
            for k in np.flatnonzero(verdict):
                accepted.append(tables[k, : map_counts[k]].copy())
                if len(accepted) == num_classes:
                    return accepted, examined + int(k) + 1
            examined += SEARCH_BATCH
            if on_progress is not None:
                on_progress(len(accepted), examined)
    finally:
        getattr(verdicts, "close", lambda: None)()  # stop an engine's map from working ahead


def _check_table(table, where):
    if table.ndim != 2 or table.shape[1] != 7 or table.shape[0] < 1:
        raise UsageError(f"malformed --params: {where}: expected rows of 7 values a,b,c,d,e,f,p")
    if not np.isfinite(table).all():
        raise UsageError(f"malformed --params: {where}: non-finite value")
    p = table[:, 6]
    if (p < 0).any() or p.sum() <= 0:
        raise UsageError(f"malformed --params: {where}: probabilities must be >= 0 with a positive sum")
    return table


def load_params(path):
    """Class tables from an fdsl manifest or a folder of reference CSVs (sorted by file name)."""
    if os.path.isdir(path):
        return [_check_table(table, name) for name, table in read_csv_folder(path, "--params")]
    tables = []
    for index, entry in enumerate(read_manifest_classes(path, "fractaldb", "--params")):
        where = f"{path} class {index}"
        try:
            table = np.array(entry["params"], dtype=np.float64)
        except (ValueError, KeyError, TypeError) as e:
            raise UsageError(f"malformed --params: {where}: {e!r}") from None
        tables.append(_check_table(table, where))
    return tables


def _in(low, high, closed_low=False):
    """A check that a number lies in (low, high] (or [low, high])."""
    def check(value):
        inside = (low <= value if closed_low else low < value) and value <= high
        return None if inside else f"must be in {'[' if closed_low else '('}{low}, {high}], got {value}"
    return check


RECIPES = {
    "fractaldb-1k": {
        "family": "fractaldb",
        "description": "FractalDB-1k as published (Kataoka et al., ACCV 2020): categories searched with seed 1 at "
                       "filling rate 0.2 with 100,000 points; 362 px images of 200,000 points; 25 weight variants "
                       "(step 0.4) x 10 patch draws x 4 flips = 1,000 images per class.",
        "name": "fractaldb-1k",
        "classes": 1000, "filling_rate": 0.2, "seed": 1, "search_points": 100000, "image_size": 362,
        "points": 200000, "pad": 6, "weight_step": 0.4, "draw": "patch", "draws": 10,
    },
}


def render(table, weights, size, pad, points, mask_key=None):
    """The four flips of one render of a class table scaled by one weight row.

    Point mode when ``mask_key`` (an int, or its decimal string as in a sample's .json) is
    None, patch mode otherwise. Returns (images, diverged)."""
    maps = table[:, :6] * weights
    cumulative = ifs.selection_table(table[:, 6])
    xs = np.empty(points)
    ys = np.empty(points)
    bounds, finite = ifs.chaos_game(maps, cumulative, selection_draws(points), xs, ys)
    columns, rows, diverged = ifs.points_to_pixels(xs, ys, size, pad, bounds, finite)
    canvas = np.zeros((size, size), dtype=np.uint8)
    if mask_key is None:
        ifs.draw_points(canvas, columns, rows, POINT_VALUE)
    else:
        ifs.draw_patches(canvas, columns, rows, POINT_VALUE, np.uint64(int(mask_key)))
    upright = canvas[::-1]  # the reference draws with y pointing up
    return (upright, upright[::-1], upright[:, ::-1], upright[::-1, ::-1]), bool(diverged)


def render_sample(meta):
    """Re-render exactly the image of one sample from its .json metadata alone."""
    table = np.array(meta["params"], dtype=np.float64)
    images, _ = render(
        table, np.array(meta["weights"]), meta["image_size"], meta["pad"], meta["points"], meta.get("mask_key")
    )
    return images[meta["flip"]]


@register_family
class FractalDB(Family):
    name = "fractaldb"
    help = """FractalDB: IFS fractal categories (Kataoka et al., ACCV 2020).

    Example: fdsl-gen fractaldb --recipe fractaldb-1k --out shards/fractaldb-1k"""
    options = (
        Option("classes", int, None, "Number of categories.", default_text="1000, or all of --params", minimum=1),
        Option("filling_rate", float, 0.2, "Search threshold: fraction of a 512 px canvas a category must fill.",
               check=_in(0.0, 1.0)),
        seed_option(1, "Search seed (numpy legacy RandomState); also seeds patch masks and sample order."),
        Option("search_points", int, 100_000, "Chaos-game points per search candidate.", minimum=1),
        Option("image_size", int, 362, "Image side in pixels.", minimum=1),
        Option("points", int, 200_000, "Chaos-game points per render.", minimum=1),
        Option("pad", int, 6, "Padding in pixels.", minimum=0),
        Option("weight_step", float, 0.4, "Step of the 25 weight variants, in (0, 0.5].", check=_in(0.0, 0.5)),
        Option("draw", str, "patch", "Patch (3x3 random masks) or point rendering.", choices=("patch", "point")),
        Option("draws", int, None, "Patch draws per weight variant.", default_text="10 patch, 1 point", minimum=1),
        Option("instances", int, None, "Images per class, at most 25 x draws x 4 flips.", default_text="all"),
        Option("params", str, None, "Skip the search: class tables from an fdsl manifest or a folder of reference CSVs."),
    )
    recipes = RECIPES
    streams = {"patch_masks": 3}  # the patch masks of one render
    group_size = FLIPS
    paper = Paper("kataoka2020fractaldb", "Pre-training without Natural Images",
                  ("Hirokatsu Kataoka", "Kazushige Okayasu", "Asato Matsumoto", "Eisuke Yamagata", "Ryosuke Yamada",
                   "Nakamasa Inoue", "Akio Nakamura", "Yutaka Satoh"),
                  "Asian Conference on Computer Vision (ACCV)", 2020, "https://arxiv.org/abs/2101.08515")

    @classmethod
    def class_summary(cls, entry):
        return {"maps": len(entry["params"])}  # a category is its system of affine maps

    @classmethod
    def finish_config(cls, config):
        if config["classes"] is None and config["params"] is None:
            config["classes"] = 1000
        if config["image_size"] - 2 * config["pad"] < 1:
            raise UsageError("--pad must leave at least one pixel inside --image-size")
        if config["params"] is None and _min_filled_pixels(config["filling_rate"], SEARCH_SIZE) > config["search_points"]:
            raise UsageError(
                f"--filling-rate {config['filling_rate']} needs more distinct pixels than --search-points "
                f"{config['search_points']} can fill: no candidate could ever be accepted"
            )
        if config["draws"] is None:
            config["draws"] = 10 if config["draw"] == "patch" else 1
        if config["draw"] == "point" and config["draws"] != 1:
            raise UsageError("--draws applies to patch mode; point mode renders one draw per weight row")
        most = WEIGHT_ROWS * config["draws"] * FLIPS
        if config["instances"] is None:
            config["instances"] = most
        if not 1 <= config["instances"] <= most:
            raise UsageError(f"--instances must be in 1..{most} (25 weight rows x {config['draws']} draws x 4 flips)")
        if config["params"] is not None:
            config["params"] = os.path.abspath(config["params"])
        return config

    @classmethod
    def with_instances(cls, config, instances):
        """Instances beyond 25 x draws x 4 come from further patch draws (point mode has one)."""
        draws = max(config["draws"], math.ceil(instances / (WEIGHT_ROWS * FLIPS)))
        return cls.configure(dict(config, draws=draws, instances=instances))

    @classmethod
    def build_class_table(cls, config, parallel_map=map, on_progress=None):
        """The class table, searched or loaded from --params, and a note on where it came from."""
        if config["params"] is None:
            tables, examined = search_classes(config["classes"], config["filling_rate"], config["seed"],
                                              config["search_points"], parallel_map, on_progress)
            source = {"source": "search", "candidates_examined": examined}
        else:
            tables = load_params(config["params"])
            if config["classes"] is not None:
                if config["classes"] > len(tables):
                    raise UsageError(f"--classes {config['classes']} but --params has only {len(tables)} classes")
                tables = tables[: config["classes"]]
            source = {"source": "params", "params": config["params"]}
        return [{"params": t.tolist()} for t in tables], source

    def __init__(self, config, class_table):
        super().__init__(config, class_table)
        self.weights = weight_multipliers(config["weight_step"])
        self.tables = [np.array(entry["params"], dtype=np.float64) for entry in class_table]

    def render_group(self, class_index, group_in_class):
        config = self.config
        draw, weight_row = divmod(group_in_class, WEIGHT_ROWS)
        meta = {
            "class": class_index,
            "draw_mode": config["draw"],
            "weight_row": weight_row,
            "draw": draw,
            "weights": self.weights[weight_row].tolist(),
            "image_size": config["image_size"],
            "pad": config["pad"],
            "points": config["points"],
            "selection_seed": SELECTION_SEED,
            "params": self.class_table[class_index]["params"],
        }
        if config["draw"] == "patch":
            # 64 bits as a decimal string: readers that take JSON integers as int64 (Arrow, so
            # Hugging Face datasets) or float64 (JavaScript) cannot hold every key
            meta["mask_key"] = str(self.key("patch_masks", class_index, weight_row, draw))
        images, diverged = render(
            self.tables[class_index], self.weights[weight_row], meta["image_size"], meta["pad"], meta["points"],
            meta.get("mask_key"),
        )
        meta["diverged"] = diverged
        return [
            (instance, images[instance % FLIPS], dict(meta, instance=instance, flip=instance % FLIPS))
            for instance in self.group_instances(group_in_class)
        ]

    render_sample = staticmethod(render_sample)
