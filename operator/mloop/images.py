"""Our workload images and the program each one runs: the contract between builders, Dockerfiles and the
local pod runner (which runs an image's entrypoint as a local process instead of pulling the image)."""

from __future__ import annotations

import re

from mloop import __version__

__all__ = ["COMPONENTS", "ENTRYPOINTS", "IMAGE_REPOSITORY", "component_of", "image_for"]

#: Where release images are published; the Helm chart can override it.
IMAGE_REPOSITORY = "ghcr.io/mloop-io"
#: images/<component>/Dockerfile exists for each of these.
COMPONENTS = ("operator", "trainer", "server", "drift")
#: The ENTRYPOINT of each image, as argv (the Dockerfiles set exactly this).
ENTRYPOINTS: dict[str, tuple[str, ...]] = {
    "operator": ("python", "-m", "mloop.operator"),
    "trainer": ("python", "-m", "mloop.trainer"),
    "server": ("python", "-m", "mloop.server"),
    "drift": ("python", "-m", "mloop.drift"),
}
_IMAGE = re.compile(r"^(?:.+/)?mloop-(?P<component>[a-z]+)(?::[\w.\-]+)?(?:@sha256:[a-f0-9]{64})?$")


def image_for(component: str, *, repository: str = IMAGE_REPOSITORY, tag: str = __version__) -> str:
    """``ghcr.io/mloop-io/mloop-trainer:0.1.0``: a pinned tag, never ``latest``."""
    if component not in COMPONENTS:
        raise ValueError(f"unknown component {component!r}; expected one of {', '.join(COMPONENTS)}")
    return f"{repository.rstrip('/')}/mloop-{component}:{tag}"


def component_of(image: str) -> str | None:
    """The component an image reference runs, whatever registry or tag it carries; None for foreign images."""
    match = _IMAGE.match(image)
    if match is None or match["component"] not in COMPONENTS:
        return None
    return match["component"]
