"""VisualAtom generation end to end at 512 px (prints figures; not a test).

    python bench/visualatom_pipeline.py [classes] [instances]

In one process, with one worker (the pipeline runs inline, so CPU time is per core):
1. native mode end to end (class table, render, PNG encode, tar, write): images/s per core;
2. replay mode end to end, fast-forwarding included (recipe: one process stream holding all
   the classes, so every class but the first is reached by fast-forwarding the whole class
   before it, as in the published run), against native mode rendering the same class
   parameters (the cost of an image is about proportional to q x K, which varies 1000-fold
   between classes, so only the same classes compare);
3. the native images of 1. rendered and PNG-encoded alone, timed apart: the ratio of the end
   to end time to merely encoding, and other pinned PNG settings for comparison;
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


def timed_generation(config, out, family=va.VisualAtom):
    start_cpu, start_wall = time.process_time(), time.perf_counter()
    manifest = generate(family, family.configure(config), out, "bench", 1000, workers=1, progress=False)
    return time.process_time() - start_cpu, time.perf_counter() - start_wall, manifest


def main(classes=4, instances=1000):
    images = classes * instances
    # Compile (or load the cached kernels) outside the timings.
    with tempfile.TemporaryDirectory() as warm:
        generate(va.VisualAtom, va.VisualAtom.configure({"classes": 1, "instances": 2, "image_size": 64}),
                 warm, "warm", 10, workers=1, progress=False)
        generate(va.VisualAtom, va.VisualAtom.configure({"mode": "replay", "threads": 1, "classes": 1,
                                                         "instances": 2, "image_size": 64}),
                 warm + "/r", "warm", 10, workers=1, progress=False)

    with tempfile.TemporaryDirectory() as tmp:
        native_cpu, native_wall, manifest = timed_generation(
            {"classes": classes, "instances": instances}, os.path.join(tmp, "native"))
        shard_bytes = sum(s["bytes"] for s in manifest["shards"])
        replay_cpu, replay_wall, replayed = timed_generation(
            {"mode": "replay", "threads": 1, "classes": classes, "instances": instances}, os.path.join(tmp, "replay"))

        class NativeOfReplayedClasses(va.VisualAtom):
            @classmethod
            def build_class_table(cls, config, workers=1, on_progress=None):
                return [{name: entry[name] for name in va.PARAMETER_NAMES} for entry in replayed["classes"]], {}

        same_cpu, _, _ = timed_generation({"classes": classes, "instances": instances}, os.path.join(tmp, "same"),
                                          NativeOfReplayedClasses)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    # The fast-forward alone: the class start states of the replay run.
    recipe = va.VisualAtomRecipe(numof_thread=1, numof_classes=classes, numof_instances=instances)
    start = time.process_time()
    va.replay_thread_class_states(recipe, 0)
    class_states_cpu = time.process_time() - start

    # Render and encode the same native images, timed apart.
    family = va.VisualAtom(manifest["config"], manifest["classes"])
    render_cpu = encode_cpu = 0.0
    other_cpu = dict.fromkeys(OTHER_PNG_SETTINGS, 0.0)
    other_bytes = dict.fromkeys(OTHER_PNG_SETTINGS, 0)
    pinned_bytes = 0
    for class_index in range(classes):
        for instance in range(instances):
            start = time.process_time()
            (_, image, _), = family.render_group(class_index, instance)
            render_cpu += time.process_time() - start
            start = time.process_time()
            pinned_bytes += len(encode_png(image))
            encode_cpu += time.process_time() - start
            if instance % 10 == 0:  # a sample of the images for the other settings
                for name, params in OTHER_PNG_SETTINGS.items():
                    start = time.process_time()
                    other_bytes[name] += len(cv2.imencode(".png", image, params)[1])
                    other_cpu[name] += time.process_time() - start

    def per_image(seconds):
        return seconds / images * 1e3

    print(f"VisualAtom, 512 px, {classes} classes x {instances} instances = {images} images, 1 worker")
    print(f"native end to end : {per_image(native_cpu):6.2f} ms/img CPU = {images / native_cpu:6.1f} img/s per core "
          f"(wall {native_wall:.1f} s); {shard_bytes / images / 1e3:.1f} KB per sample")
    print(f"  render only     : {per_image(render_cpu):6.2f} ms/img")
    print(f"  PNG encode only : {per_image(encode_cpu):6.2f} ms/img  (pinned: {PNG_PARAMS})")
    print(f"  end to end / encode only = {native_cpu / encode_cpu:.2f}x")
    print(f"replay end to end : {per_image(replay_cpu):6.2f} ms/img CPU (wall {replay_wall:.1f} s); native mode "
          f"on the same classes {per_image(same_cpu):6.2f} ms/img: replay / native = {replay_cpu / same_cpu:.2f}x")
    print(f"  class start states (fast-forward over {classes - 1} whole classes): {class_states_cpu:.2f} s, "
          f"{class_states_cpu / max(1, classes - 1) / instances * 1e6:.0f} us per instance skipped")
    groups = -(-instances // va.REPLAY_GROUP_SIZE)
    skipped_per_group = va.REPLAY_GROUP_SIZE * (groups - 1) / 2
    print(f"  in-class fast-forward: groups of {va.REPLAY_GROUP_SIZE} skip {skipped_per_group:.0f} instances on average")
    print(f"peak RSS of this process (parent + inline worker): {peak_mb:.0f} MB")
    sampled = classes * -(-instances // 10)
    print(f"other PNG settings on {sampled} of the images (pinned: {pinned_bytes / images / 1e3:.1f} KB, "
          f"{per_image(encode_cpu):.2f} ms):")
    for name in OTHER_PNG_SETTINGS:
        print(f"  {name:38s}: {other_cpu[name] / sampled * 1e3:5.2f} ms, {other_bytes[name] / sampled / 1e3:6.1f} KB")
    print(json.dumps({"native_img_per_s_per_core": round(images / native_cpu, 1),
                      "end_to_end_over_encode": round(native_cpu / encode_cpu, 2),
                      "replay_over_native": round(replay_cpu / same_cpu, 2),
                      "peak_rss_mb": round(peak_mb)}))


if __name__ == "__main__":
    main(*(int(a) for a in sys.argv[1:3]))
