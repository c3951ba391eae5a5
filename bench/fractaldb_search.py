"""FractalDB-1k category search with the published settings (seed 1, filling rate 0.2,
100,000 points), all cores. Target: at most 60 s wall on a 2-core machine (the reference:
about 45 minutes on one core). Also checks the result against the published N counts.

    python bench/fractaldb_search.py [--classes 1000] [--workers N]
"""
import argparse
import collections
import os
import time

from fdsl_gen.engines.local import thread_map
from fdsl_gen.families.fractaldb import search_classes

PUBLISHED_MAP_COUNTS = {2: 231, 3: 294, 4: 218, 5: 146, 6: 77, 7: 34}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--classes", type=int, default=1000)
    parser.add_argument("--workers", type=int, default=len(os.sched_getaffinity(0)))
    args = parser.parse_args()

    search_classes(1, 0.2, 1, 100_000)  # compile / load the kernels outside the timing
    start = time.perf_counter()
    tables, examined = search_classes(args.classes, 0.2, 1, 100_000, thread_map(args.workers))
    wall = time.perf_counter() - start
    counts = dict(sorted(collections.Counter(len(t) for t in tables).items()))
    print(f"machine: {os.cpu_count()} cores; search threads: {args.workers}")
    print(f"search: {len(tables)} classes from {examined} candidates in {wall:.1f} s wall "
          f"({examined / wall:.0f} candidates/s; target <= 60 s for 1000 classes)")
    print(f"maps per class: {counts}")
    if args.classes == 1000:
        print(f"published counts {'match' if counts == PUBLISHED_MAP_COUNTS else 'DIFFER'}: {PUBLISHED_MAP_COUNTS}")


if __name__ == "__main__":
    main()
