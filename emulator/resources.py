"""Where the built-in scenarios and schemas are.

In the source tree (and an editable install) they sit at the top, beside `emulator/`; a
wheel carries them inside the package as `emulator/_data/` (see pyproject.toml).
"""

from __future__ import annotations

from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent


def data_dir(name: str) -> Path:
    """The built-in `scenarios` or `schemas` folder."""
    for candidate in (_PACKAGE / "_data" / name, _PACKAGE.parent / name):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(f"the built-in {name} folder is missing from this installation")


def builtin_scenarios() -> Path:
    return data_dir("scenarios")


def builtin_schemas() -> Path:
    return data_dir("schemas")
