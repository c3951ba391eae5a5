"""Readers of class-table files: an fdsl manifest, or a folder of the reference CSV tables.

A family that takes its class table from a file (FractalDB's ``--params``) reads it here and
checks what the values mean itself.
"""
import csv
import os

import numpy as np

from . import manifest as manifests
from .errors import GenerationError, UsageError


def read_csv_folder(path, option):
    """(file name, float64 array) of every ``*.csv`` file of the folder, sorted by file name."""
    names = sorted(n for n in os.listdir(path) if n.endswith(".csv"))
    if not names:
        raise UsageError(f"malformed {option}: no .csv files in {path}")
    tables = []
    for name in names:
        try:
            with open(os.path.join(path, name), newline="") as f:
                rows = [[float(v) for v in row] for row in csv.reader(f) if row]
            tables.append((name, np.array(rows, dtype=np.float64)))
        except ValueError as e:
            raise UsageError(f"malformed {option}: {name}: {e}") from None
        except OSError as e:
            raise UsageError(f"cannot read {option} {os.path.join(path, name)}: {e.strerror}") from None
    return tables


def read_manifest_classes(path, family, option):
    """The ``classes`` entries of the fdsl manifest file at ``path`` (of ``family``)."""
    try:
        manifest = manifests.read_file(path)
    except OSError as e:
        raise UsageError(f"cannot read {option} {path}: {e.strerror}") from None
    except GenerationError as e:
        raise UsageError(f"malformed {option}: {e}") from None
    if manifest.get("family") != family:
        raise UsageError(f"malformed {option}: {path} is not a {family} manifest")
    classes = manifest.get("classes")
    if not isinstance(classes, list) or not classes:
        raise UsageError(f"malformed {option}: {path} has no classes")
    return classes
