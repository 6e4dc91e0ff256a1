"""mloop API models (group ``mloop.io``, version ``v1alpha1``): the single source of ``crds/``.

The kind modules are imported lazily through ``KINDS``/``KindInfo`` so that importing
``mloop.api.common`` alone stays cheap.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

GROUP = "mloop.io"
VERSION = "v1alpha1"
API_VERSION = f"{GROUP}/{VERSION}"

if TYPE_CHECKING:
    from mloop.api.kinds import KINDS, KindInfo, PrinterColumn

__all__ = ["API_VERSION", "GROUP", "KINDS", "VERSION", "KindInfo", "PrinterColumn"]


def __getattr__(name: str) -> Any:
    """Resolve the registry on first use (PEP 562) to avoid a package-import cycle."""
    if name in ("KINDS", "KindInfo", "PrinterColumn"):
        from mloop.api import kinds  # noqa: PLC0415

        return getattr(kinds, name)
    raise AttributeError(name)
