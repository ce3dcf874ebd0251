"""Model families. Each public module here registers one family; importing this package loads
every one of them, so adding a family is adding one file (modules starting with ``_`` are
helpers)."""

import importlib
import pkgutil

for _module in pkgutil.iter_modules(__path__):
    if not _module.name.startswith("_"):
        importlib.import_module(f"{__name__}.{_module.name}")
