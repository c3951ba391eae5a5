"""VisualAtom replay: golden images pixel for pixel, fast-forward consistency, and a slow
pure-Python reference (stdlib random + noise + Pillow) on tiny recipes."""
import math
import random
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw

from fdsl_gen.families import visualatom as va

GOLDEN = Path(__file__).resolve().parents[2] / "shared" / "golden" / "visualatom"
GOLDEN_RECIPE = va.VisualAtomRecipe(numof_thread=2, numof_classes=4, numof_instances=2)


def _golden_files():
    files = sorted(GOLDEN.glob("*.png"))
    if not files:
        pytest.skip(f"no golden images in {GOLDEN}")
    return files


def test_published_defaults():
    recipe = va.VisualAtomRecipe()
    assert (recipe.vertex_min, recipe.vertex_max, recipe.perlin_min) == (200, 1000, 0)
    assert (recipe.line_num_min, recipe.line_num_max, recipe.line_width) == (1, 200, 0.1)
    assert (recipe.radius_min, recipe.oval_rate, recipe.start_pos) == (10, 2, 512)
    assert (recipe.nami_1_min, recipe.nami_1_max, recipe.nami_2_min, recipe.nami_2_max) == (
        0, 20, 0, 20)
    assert recipe.image_size == 512
    assert (recipe.numof_thread, recipe.numof_classes, recipe.numof_instances,
            recipe.start_class) == (20, 1000, 1000, 0)
    assert recipe.classes_per_thread == 50


def test_golden_images_pixel_exact():
    expected = {path.name: path for path in _golden_files()}
    states = va.replay_class_states(GOLDEN_RECIPE)
    produced = set()
    for thread in range(GOLDEN_RECIPE.numof_thread):
        for position, class_id in enumerate(va.thread_class_ids(GOLDEN_RECIPE, thread)):
            state = states[thread, position]
            params = va.class_parameters(GOLDEN_RECIPE, state)
            images = va.render_instances(GOLDEN_RECIPE, state, 0,
                                         GOLDEN_RECIPE.numof_instances)
            for instance, image in enumerate(images):
                name = f"{class_id:05d}_vertex_{params.vertices:04d}_instance_{instance:04d}.png"
                produced.add(name)
                assert name in expected, name
                golden = np.array(Image.open(expected[name]))
                assert golden.shape == image.shape and golden.dtype == image.dtype
                assert np.array_equal(image, golden), (
                    name, int((image != golden).sum()), "pixels differ")
    assert produced == set(expected)


def test_fast_forward_consumes_exactly_what_rendering_consumes():
    recipe = va.VisualAtomRecipe(numof_thread=1, numof_classes=3, numof_instances=3,
                                 line_num_max=20, image_size=128, start_pos=128)
    ranges = va._ranges(recipe)
    rendered = va.thread_initial_state(0)
    skipped = rendered.copy()
    images = np.empty((recipe.numof_instances, 128, 128), dtype=np.uint8)
    for _ in range(recipe.classes_per_thread):
        params_rendered = va.run_class(rendered, ranges, recipe.numof_instances, 0, images)
        params_skipped = va.fast_forward_class(recipe, skipped)
        assert va._as_class(params_rendered) == params_skipped
        assert np.array_equal(rendered, skipped)
        assert images.any()


def test_class_states_chain_through_the_thread():
    recipe = va.VisualAtomRecipe(numof_thread=2, numof_classes=6, numof_instances=4,
                                 line_num_max=10)
    states = va.replay_class_states(recipe)
    assert states.shape == (2, 3, 625) and states.dtype == np.uint32
    for thread in range(2):
        state = va.thread_initial_state(thread)
        assert np.array_equal(states[thread, 0], state)
        for position in range(1, 3):
            va.fast_forward_class(recipe, state)
            assert np.array_equal(states[thread, position], state)
    assert not np.array_equal(states[0, 0], states[1, 0])
    assert list(va.thread_class_ids(recipe, 1)) == [3, 4, 5]
    assert va.thread_of_class(recipe, 4) == (1, 1)


def test_single_instance_equals_batch():
    recipe = va.VisualAtomRecipe(numof_thread=1, numof_classes=1, numof_instances=4,
                                 line_num_max=15, image_size=96, start_pos=96)
    state = va.replay_class_states(recipe)[0, 0]
    before = state.copy()
    batch = va.render_instances(recipe, state, 0, 4)
    for instance in range(4):
        assert np.array_equal(va.render_instance(recipe, state, instance), batch[instance])
    assert np.array_equal(va.render_instances(recipe, state, 1, 2), batch[1:3])
    assert np.array_equal(state, before)  # class states are not modified


# ---------------------------------------------------------------- slow, obvious reference

def _reference_thread(recipe, thread):
    """The spec's algorithm with the standard library: {(class, instance): image}."""
    noise = pytest.importorskip("noise")
    rng = random.Random(thread + 1)
    size = recipe.image_size
    out = {}
    for class_id in va.thread_class_ids(recipe, thread):
        q = rng.randint(recipe.vertex_min, recipe.vertex_max)
        orbits = rng.randint(recipe.line_num_min, recipe.line_num_max)
        eta = rng.uniform(recipe.perlin_min, recipe.perlin_min + 4)
        w = rng.uniform(0.0, recipe.line_width)
        r0 = rng.randint(recipe.radius_min, recipe.radius_min + 50)
        n1 = rng.randint(recipe.nami_1_min, recipe.nami_1_max)
        while True:
            n2 = rng.randint(recipe.nami_2_min, recipe.nami_2_max)
            if n1 == 0 or n2 != n1:
                break
        ox = rng.uniform(1, recipe.oval_rate)
        oy = rng.uniform(1, recipe.oval_rate)
        cy = (size + rng.randint(-recipe.start_pos, recipe.start_pos)) / 2
        cx = (size + rng.randint(-recipe.start_pos, recipe.start_pos)) / 2
        angle = 2 * math.pi / q
        for instance in range(recipe.numof_instances):
            xs = [math.cos(angle * i) * r0 * ox + cx for i in range(q)]
            ys = [math.sin(angle * i) * r0 * oy + cy for i in range(q)]
            image = Image.new("L", (size, size), 0)
            draw = ImageDraw.Draw(image)
            for _ in range(orbits):
                grey = rng.randint(0, 255)
                nx = [noise.pnoise1(rng.uniform(0, 10000)) * eta - eta
                      - 0.5 * math.sin(angle * i * n1) - 0.5 * math.sin(angle * i * n2)
                      for i in range(q)]
                ny = [noise.pnoise1(rng.uniform(0, 10000)) * eta - eta
                      - 0.5 * math.sin(angle * i * n1) - 0.5 * math.sin(angle * i * n2)
                      for i in range(q)]
                for i in range(q):
                    xs[i] -= math.cos(angle * i) * (nx[i] - w)
                    ys[i] -= math.sin(angle * i) * (ny[i] - w)
                for i in range(q):
                    j = (i + 1) % q
                    draw.line((xs[i], ys[i], xs[j], ys[j]), fill=grey, width=1)
            out[class_id, instance] = np.array(image)
            cy = (size + rng.randint(-recipe.start_pos, recipe.start_pos)) / 2
            cx = (size + rng.randint(-recipe.start_pos, recipe.start_pos)) / 2
    return out


@pytest.mark.parametrize("recipe", [
    # Tiny nami ranges force the n2 != n1 redraw; small canvas, centres often off-canvas.
    va.VisualAtomRecipe(vertex_min=3, vertex_max=40, line_num_min=1, line_num_max=8,
                        nami_1_min=0, nami_1_max=2, nami_2_min=0, nami_2_max=2,
                        image_size=64, start_pos=64, numof_thread=2, numof_classes=13,
                        numof_instances=3, start_class=5),
    # The script's own defaults (perlin_min 2, line_width 0.01, radius_min 0).
    va.VisualAtomRecipe(vertex_min=20, vertex_max=60, perlin_min=2, line_num_max=6,
                        line_width=0.01, radius_min=0, image_size=80, start_pos=40,
                        numof_thread=1, numof_classes=3, numof_instances=2),
])
def test_matches_slow_reference(recipe):
    states = va.replay_class_states(recipe)
    for thread in range(recipe.numof_thread):
        expected = _reference_thread(recipe, thread)
        for position, class_id in enumerate(va.thread_class_ids(recipe, thread)):
            images = va.render_instances(recipe, states[thread, position], 0,
                                         recipe.numof_instances)
            for instance, image in enumerate(images):
                assert np.array_equal(image, expected[class_id, instance]), (class_id, instance)
