"""VisualAtom replay cost at the published ranges (prints figures; not a test).

    python bench/visualatom_render.py [classes]

Per class: the fast-forward over all 1000 instances (what reaching a later class costs) and
the rasterisation of a few instances (512 x 512), on one core. Times are CPU time of this
thread (time.thread_time), so that other load on the machine does not inflate them.
"""
import sys
import time

import numpy as np

from fdsl_gen.families import visualatom as va


def main(classes=8, instances_rendered=20):
    recipe = va.VisualAtomRecipe(numof_thread=1, numof_classes=classes)
    ranges = va._ranges(recipe)
    empty = np.empty((0, recipe.image_size, recipe.image_size), dtype=np.uint8)
    out = np.empty((instances_rendered, recipe.image_size, recipe.image_size), dtype=np.uint8)

    # Compile outside the timings.
    warm = va.VisualAtomRecipe(numof_thread=1, numof_classes=1, numof_instances=2)
    va.render_instances(warm, va.thread_initial_state(0), 0, 2)
    va.fast_forward_class(warm, va.thread_initial_state(0))

    state = va.thread_initial_state(0)
    total_render = total_skip = 0.0
    total_segments = 0
    print(f"{'class':>5} {'q':>5} {'K':>4} {'ms/img':>8} {'img/s':>7} {'ff 1000 inst (s)':>17}")
    for class_id in range(classes):
        params = va.class_parameters(recipe, state)
        start = time.thread_time()
        va.run_class(state.copy(), ranges, instances_rendered, 0, out)
        render = (time.thread_time() - start) / instances_rendered
        start = time.thread_time()
        va.run_class(state, ranges, recipe.numof_instances, 0, empty)  # advances state
        fast_forward = time.thread_time() - start
        total_render += render
        total_skip += fast_forward
        total_segments += params.vertices * params.orbits
        print(f"{class_id:5d} {params.vertices:5d} {params.orbits:4d} {render * 1e3:8.2f} "
              f"{1 / render:7.1f} {fast_forward:17.3f}")
    print(f"mean: {total_render / classes * 1e3:.2f} ms per 512px instance "
          f"({classes / total_render:.0f} images/s per core), "
          f"fast-forward {total_skip / classes:.3f} s per class of 1000 instances "
          f"({total_skip / classes / recipe.numof_instances * 1e6:.0f} us/instance), "
          f"{total_segments / classes:.0f} segments per image on average")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 8)
