"""Dataset families: one module each, registered by name (timm-style registry).

Modules are imported on first use, so a worker process loads only its own family (the
statistical models pull in scipy and pyrtools, which the others do not need)."""
import importlib

from .base import _FAMILIES, Family, register_family

FAMILY_MODULES = ("fractaldb", "visualatom", "deadleaves", "spectrum")


def get_family(name):
    if name not in _FAMILIES and name in FAMILY_MODULES:
        importlib.import_module(f"{__name__}.{name}")
    return _FAMILIES[name]


__all__ = ["Family", "get_family", "register_family", "FAMILY_MODULES"]
