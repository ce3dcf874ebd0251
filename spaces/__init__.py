"""What may be tried: model families (a registry, open to your own) and search spaces (data).

Register a family of your own with :func:`register_family` (see ``spaces/registry.py``).
"""

from scalesearch.spaces.registry import Family, ModelInput, register_family, unregister_family

__all__ = ["Family", "ModelInput", "register_family", "unregister_family"]
