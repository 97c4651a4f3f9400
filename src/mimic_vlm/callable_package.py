"""`mv.evaluate(...)` and `mv.report(...)`: API functions whose names are also subpackages (`mimic_vlm.evaluate`,
`mimic_vlm.report`). Python binds a package's attribute to its subpackage once that is imported, so a plain
function of the same name would be replaced by a module depending on import order. Instead the subpackage
itself is made callable: calling it calls the API function of its name, and its submodules stay reachable."""

from __future__ import annotations

import importlib
import inspect
import sys
import types
from typing import Any


class CallablePackage(types.ModuleType):
    """A package that, called, calls `mimic_vlm.api.<its last name>` (imported on first call)."""

    def _function(self) -> Any:
        return getattr(importlib.import_module("mimic_vlm.api"), self.__name__.rsplit(".", 1)[1])

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self._function()(*args, **kwargs)

    @property
    def __signature__(self) -> inspect.Signature:
        return inspect.signature(self._function())


def make_callable(name: str) -> None:
    """Called at the end of the package `name`'s `__init__`."""
    sys.modules[name].__class__ = CallablePackage
