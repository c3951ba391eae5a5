"""raster/orbits.py: VisualAtom's draw and render kernels against a slow, obvious reference
(stdlib random + the noise package + Pillow) on tiny recipes, and the fast-forward that
consumes exactly the words rendering consumes."""
import math
import random

import numpy as np
import pytest
from PIL import Image, ImageDraw

from fdsl_gen.families import visualatom as va
from fdsl_gen.raster.orbits import run_class


def test_fast_forward_consumes_exactly_what_rendering_consumes():
    recipe = va.VisualAtomRecipe(numof_thread=1, numof_classes=3, numof_instances=3,
                                 line_num_max=20, image_size=128, start_pos=128)
    ranges = va._ranges(recipe)
    rendered = va.thread_initial_state(0)
    skipped = rendered.copy()
    images = np.empty((recipe.numof_instances, 128, 128), dtype=np.uint8)
    for _ in range(recipe.classes_per_thread):
        params_rendered = run_class(rendered, ranges, recipe.numof_instances, 0, images)
        params_skipped = va.fast_forward_class(recipe, skipped)
        assert va._as_class(params_rendered) == params_skipped
        assert np.array_equal(rendered, skipped)
        assert images.any()


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
