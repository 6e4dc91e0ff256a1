"""Generated files as data: a mapping of path to wanted content, written or compared in one place."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["Outputs", "stale", "write"]


@dataclass
class Outputs:
    """Wanted files, plus directories whose other files (matching ``owned_glob``) are stale leftovers."""

    files: dict[Path, str] = field(default_factory=dict)
    owned_dirs: dict[Path, str] = field(default_factory=dict)

    def merge(self, other: Outputs) -> Outputs:
        return Outputs({**self.files, **other.files}, {**self.owned_dirs, **other.owned_dirs})

    def leftovers(self) -> list[Path]:
        """Files in an owned directory that no generator wants any more."""
        found: list[Path] = []
        for directory, pattern in self.owned_dirs.items():
            if directory.is_dir():
                found += [p for p in sorted(directory.glob(pattern)) if p not in self.files]
        return found


def stale(outputs: Outputs) -> list[str]:
    """Paths whose committed content differs from the generated one (missing, changed or left over)."""
    problems = [
        f"{path}: {'missing' if not path.exists() else 'differs'}"
        for path, text in sorted(outputs.files.items())
        if not path.exists() or path.read_text() != text
    ]
    problems += [f"{path}: no longer generated" for path in outputs.leftovers()]
    return problems


def write(outputs: Outputs) -> list[Path]:
    """Write what changed and delete leftovers; returns the paths touched."""
    touched: list[Path] = []
    for path, text in sorted(outputs.files.items()):
        if path.exists() and path.read_text() == text:
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        touched.append(path)
    for path in outputs.leftovers():
        path.unlink()
        touched.append(path)
    return touched
