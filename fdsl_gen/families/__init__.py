"""Dataset families: one module each, registered by name (timm-style registry)."""
from .base import Family, get_family, register_family, family_names

from . import fractaldb, visualatom, spectrum, deadleaves  # noqa: E402,F401  (register themselves)

__all__ = ["Family", "get_family", "register_family", "family_names"]
