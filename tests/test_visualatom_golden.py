"""VisualAtom replay: the reference script's golden images pixel for pixel, and the chaining
of class states through a process stream. (Its kernels: test_raster_orbits.py.)"""
import os

import numpy as np
from PIL import Image

from fdsl_gen.families import visualatom as va

GOLDEN_RECIPE = va.VisualAtomRecipe(numof_thread=2, numof_classes=4, numof_instances=2)


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


def test_golden_images_pixel_exact(golden):
    folder = os.path.join(golden, "visualatom")
    expected = {name: os.path.join(folder, name) for name in os.listdir(folder)}
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



