"""Run Argo CD health and action scripts the way Argo CD does: Lua 5.1 (Argo CD embeds gopher-lua, a 5.1
implementation), the object as the global ``obj``, the script's return value converted back to Python."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from lupa import lua51

__all__ = ["run_script"]

#: Argo CD's sandbox exposes these standard libraries (no io, no loadfile, no require of files).
_SANDBOX = ("io", "loadfile", "dofile", "require", "package", "debug")


def _to_lua(runtime: Any, value: Any) -> Any:
    if isinstance(value, Mapping):
        table = runtime.table()
        for key, item in value.items():
            table[key] = _to_lua(runtime, item)
        return table
    if isinstance(value, list):
        table = runtime.table()
        for index, item in enumerate(value, start=1):
            table[index] = _to_lua(runtime, item)
        return table
    return value


def _to_python(value: Any) -> Any:
    if lua51.lua_type(value) != "table":
        return value
    items = dict(value.items())
    if items and all(isinstance(k, int) for k in items) and sorted(items) == list(range(1, len(items) + 1)):
        return [_to_python(items[i]) for i in range(1, len(items) + 1)]
    return {k: _to_python(v) for k, v in items.items()}


def run_script(path: Path, obj: Mapping[str, Any]) -> Any:
    """The script's return value (a health status table, an action list or the modified object)."""
    runtime = lua51.LuaRuntime(unpack_returned_tuples=True)
    for name in _SANDBOX:
        runtime.globals()[name] = None
    runtime.globals()["obj"] = _to_lua(runtime, obj)
    return _to_python(runtime.execute(path.read_text()))
