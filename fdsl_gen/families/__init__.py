"""Dataset families: one module each in this package, registered by name (timm-style registry).

Every module here except ``base`` is a family module named after its family, so adding a
family is adding a module. Modules are imported on first use, so a worker process loads only
its own family (the statistical models pull in scipy and pyrtools, which the others do not
need)."""
import importlib
import pkgutil

from .base import _FAMILIES, Family, Option, Paper, UnlabelledFamily, register_family


def family_names():
    """Names of the families in this package and of any registered from elsewhere, sorted."""
    modules = {m.name for m in pkgutil.iter_modules(__path__) if m.name != "base" and not m.name.startswith("_")}
    return sorted(modules | set(_FAMILIES))


def get_family(name):
    """The family class called ``name`` (imports its module); KeyError for an unknown name."""
    if name not in _FAMILIES and name in family_names():
        importlib.import_module(f"{__name__}.{name}")
    return _FAMILIES[name]


__all__ = ["Family", "Option", "Paper", "UnlabelledFamily", "family_names", "get_family", "register_family"]
