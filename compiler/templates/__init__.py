"""Templates: the library model, sources and lookup, ``create``, ``show_variables``, lint.

Public API (imported lazily, so that ``show_variables`` does not pay for ``create``)::

    library = TemplateLibrary.discover(dirs=["./my_templates"])
    template = library.find("sag_pt")                      # TemplateError FLJ601 if unknown
    result = create_job(template, Path("my_job"), script_dir=Path("src"),
                        override_args=["-f", "config_fed_server.conf", "num_rounds=7"])
    rows = show_variables(Path("my_job"))
    record = read_template_record(Path("my_job"))          # .fljob/template.json
    diagnostics = lint_template(Path("templates/sag_pt"))
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "CreateResult": "create",
    "JobExistsError": "create",
    "create_job": "create",
    "TemplateLibrary": "library",
    "TemplateSource": "library",
    "template_sources": "library",
    "Template": "model",
    "TemplateInfo": "model",
    "TemplateRecord": "model",
    "Variable": "model",
    "VariableKey": "model",
    "read_template_record": "model",
    "VariableRow": "variables",
    "show_variables": "variables",
    "lint_template": "lint",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{module}"), name)
