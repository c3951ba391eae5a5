"""VisualAtom generation end to end at 512 px (prints figures; not a test).

    python bench/visualatom_pipeline.py [classes instances [replay_classes replay_instances]]

In one process, with one worker (the pipeline runs inline, so CPU time is per core):
1. native mode end to end (class table, render, PNG encode, tar, write) over ``classes`` x
   ``instances`` (default 40 x 25): the cost of an image is about proportional to q x K, which
   varies 1000-fold between classes, so a figure needs many classes to be representative;
2. the same native images rendered and PNG-encoded alone, timed apart: the ratio of the end
   to end time to merely encoding (each the best of REPEATS passes, as a noisy shared machine
   only ever slows a pass down), and other PNG settings for comparison;
3. replay mode end to end, fast-forwarding included, over ``replay_classes`` x
   ``replay_instances`` (default 3 x 1000, the published instance count, so that the render
   groups fast-forward inside a class as they do in the published run; recipe: one process
   stream holding all the classes, so every class but the first is reached by fast-forwarding
   the whole class before it), against native mode rendering the same class parameters;
4. peak RSS of this process (parent and worker in one, so an upper bound per worker).
Times are CPU seconds of this process (time.process_time), so that other load on a shared
machine inflates them less than wall time; wall time is printed too.
"""
import json
import os
import resource
import sys
import tempfile
import time

import cv2

from fdsl_gen.engines.local import LocalEngine
from fdsl_gen.families import visualatom as va
from fdsl_gen.generate import generate
from fdsl_gen.shards import PNG_PARAMS, encode_png

OTHER_PNG_SETTINGS = {
    "level 1, default strategy, no filter": [cv2.IMWRITE_PNG_COMPRESSION, 1, cv2.IMWRITE_PNG_STRATEGY,
                                             cv2.IMWRITE_PNG_STRATEGY_DEFAULT, cv2.IMWRITE_PNG_FILTER,
                                             cv2.IMWRITE_PNG_FILTER_NONE],
    "level 1, RLE, sub filter": [cv2.IMWRITE_PNG_COMPRESSION, 1, cv2.IMWRITE_PNG_STRATEGY,
                                 cv2.IMWRITE_PNG_STRATEGY_RLE, cv2.IMWRITE_PNG_FILTER, cv2.IMWRITE_PNG_FILTER_SUB],
    "level 3, default strategy, no filter": [cv2.IMWRITE_PNG_COMPRESSION, 3, cv2.IMWRITE_PNG_STRATEGY,
                                             cv2.IMWRITE_PNG_STRATEGY_DEFAULT, cv2.IMWRITE_PNG_FILTER,
                                             cv2.IMWRITE_PNG_FILTER_NONE],
}


REPEATS = 2  # passes of the native end-to-end and encode-only timings; the best of each is kept


def timed_generation(config, out, family=va.VisualAtom):
    start_cpu, start_wall = time.process_time(), time.perf_counter()
    manifest = generate(family, family.configure(config), out, "bench", 1000, LocalEngine(1), progress=False)
    return time.process_time() - start_cpu, time.perf_counter() - start_wall, manifest


def main(classes=40, instances=25, replay_classes=3, replay_instances=1000):
    images = classes * instances
    replay_images = replay_classes * replay_instances
    # Compile (or load the cached kernels) outside the timings.
    with tempfile.TemporaryDirectory() as warm:
        generate(va.VisualAtom, va.VisualAtom.configure({"classes": 1, "instances": 2, "image_size": 64}),
                 warm, "warm", 10, LocalEngine(1), progress=False)
        generate(va.VisualAtom, va.VisualAtom.configure({"mode": "replay", "threads": 1, "classes": 1,
                                                         "instances": 2, "image_size": 64}),
                 warm + "/r", "warm", 10, LocalEngine(1), progress=False)

    with tempfile.TemporaryDirectory() as tmp:
        # The ratio to PNG encoding is the target: both sides are the best of REPEATS passes.
        native_runs = [timed_generation({"classes": classes, "instances": instances}, os.path.join(tmp, f"native{r}"))
                       for r in range(REPEATS)]
        native_cpu, native_wall, manifest = min(native_runs, key=lambda run: run[0])
        shard_bytes = sum(s["bytes"] for s in manifest["shards"])
        replay_cpu, replay_wall, replayed = timed_generation(
            {"mode": "replay", "threads": 1, "classes": replay_classes, "instances": replay_instances},
            os.path.join(tmp, "replay"))

        class NativeOfReplayedClasses(va.VisualAtom):
            @classmethod
            def build_class_table(cls, config, parallel_map=map, on_progress=None):
                return [{name: entry[name] for name in va.PARAMETER_NAMES} for entry in replayed["classes"]], {}

        same_cpu, _, _ = timed_generation({"classes": replay_classes, "instances": replay_instances},
                                          os.path.join(tmp, "same"), NativeOfReplayedClasses)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    # The fast-forward alone: the class start states of the replay run.
    recipe = va.VisualAtomRecipe(numof_thread=1, numof_classes=replay_classes, numof_instances=replay_instances)
    start = time.process_time()
    va.replay_thread_class_states(recipe, 0)
    class_states_cpu = time.process_time() - start

    # Render and encode the native images of 1., timed apart (best of REPEATS passes).
    family = va.VisualAtom(manifest["config"], manifest["classes"])
    render_passes, encode_passes = [], []
    for _ in range(REPEATS):
        render_cpu = encode_cpu = 0.0
        pinned_bytes = 0
        for class_index in range(classes):
            for instance in range(instances):
                start = time.process_time()
                (_, image, _), = family.render_group(class_index, instance)
                render_cpu += time.process_time() - start
                start = time.process_time()
                pinned_bytes += len(encode_png(image))
                encode_cpu += time.process_time() - start
        render_passes.append(render_cpu)
        encode_passes.append(encode_cpu)
    render_cpu, encode_cpu = min(render_passes), min(encode_passes)
    # Other PNG settings, on a sample of the images.
    other_cpu = dict.fromkeys(OTHER_PNG_SETTINGS, 0.0)
    other_bytes = dict.fromkeys(OTHER_PNG_SETTINGS, 0)
    sampled = 0
    for class_index in range(classes):
        for instance in range(0, instances, 5):
            (_, image, _), = family.render_group(class_index, instance)
            sampled += 1
            for name, params in OTHER_PNG_SETTINGS.items():
                start = time.process_time()
                other_bytes[name] += len(cv2.imencode(".png", image, params)[1])
                other_cpu[name] += time.process_time() - start

    def ms(seconds, count):
        return seconds / count * 1e3

    print(f"VisualAtom, 512 px, 1 worker; native: {classes} classes x {instances} instances = {images} images")
    print(f"native end to end : {ms(native_cpu, images):6.2f} ms/img CPU = {images / native_cpu:6.1f} img/s per core "
          f"(wall {native_wall:.1f} s); {shard_bytes / images / 1e3:.1f} KB per sample")
    print(f"  render only     : {ms(render_cpu, images):6.2f} ms/img")
    print(f"  PNG encode only : {ms(encode_cpu, images):6.2f} ms/img  (pinned: {PNG_PARAMS})")
    print(f"  end to end / encode only = {native_cpu / encode_cpu:.2f}x (best of {REPEATS}; passes: end to end "
          f"{', '.join(f'{ms(run[0], images):.2f}' for run in native_runs)}, encode only "
          f"{', '.join(f'{ms(seconds, images):.2f}' for seconds in encode_passes)} ms/img)")
    print(f"replay: {replay_classes} classes x {replay_instances} instances = {replay_images} images")
    print(f"replay end to end : {ms(replay_cpu, replay_images):6.2f} ms/img CPU (wall {replay_wall:.1f} s); native "
          f"mode on the same classes {ms(same_cpu, replay_images):6.2f} ms/img: replay / native = "
          f"{replay_cpu / same_cpu:.2f}x")
    print(f"  class start states (fast-forward over {replay_classes - 1} whole classes): {class_states_cpu:.2f} s, "
          f"{class_states_cpu / max(1, replay_classes - 1) / replay_instances * 1e6:.0f} us per instance skipped")
    groups = -(-replay_instances // va.REPLAY_GROUP_SIZE)
    skipped_per_group = va.REPLAY_GROUP_SIZE * (groups - 1) / 2
    print(f"  in-class fast-forward: groups of {va.REPLAY_GROUP_SIZE} skip {skipped_per_group:.0f} instances on average")
    print(f"peak RSS of this process (parent + inline worker): {peak_mb:.0f} MB")
    print(f"other PNG settings on {sampled} of the native images (pinned: {pinned_bytes / images / 1e3:.1f} KB, "
          f"{ms(encode_cpu, images):.2f} ms):")
    for name in OTHER_PNG_SETTINGS:
        print(f"  {name:38s}: {ms(other_cpu[name], sampled):5.2f} ms, {other_bytes[name] / sampled / 1e3:6.1f} KB")
    print(json.dumps({"native_img_per_s_per_core": round(images / native_cpu, 1),
                      "end_to_end_over_encode": round(native_cpu / encode_cpu, 2),
                      "replay_over_native": round(replay_cpu / same_cpu, 2),
                      "peak_rss_mb": round(peak_mb)}))


if __name__ == "__main__":
    main(*(int(a) for a in sys.argv[1:5]))
