"""Record every version of a collection through a real watch, so a test can assert on the sequence of states
an object went through (each canary step's weights) without polling and without racing short steps."""

from __future__ import annotations

import json
import threading
from typing import Any

import urllib3

__all__ = ["Recorder"]


class Recorder:
    """Watch ``path`` (a collection URL) from its current resourceVersion in a thread; ``events`` is the
    ``(type, object)`` sequence seen so far. Resumes from the last resourceVersion after each timeout."""

    def __init__(self, url: str, path: str) -> None:
        self.url = url.rstrip("/") + path
        self.events: list[tuple[str, dict[str, Any]]] = []
        self._http = urllib3.PoolManager(retries=False, timeout=urllib3.Timeout(connect=5, read=10))
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self.error: BaseException | None = None
        listed = json.loads(self._http.request("GET", self.url).data)
        self._rv = str(listed["metadata"]["resourceVersion"])
        self._thread = threading.Thread(target=self._run, name=f"watch {path}", daemon=True)

    def __enter__(self) -> Recorder:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join(15)
        if self.error is not None:
            raise AssertionError(f"the watch of {self.url} stopped early") from self.error

    def objects(self, name: str) -> list[dict[str, Any]]:
        """Every state of ``name`` seen so far, in order (a deletion appears as its last state)."""
        with self._lock:
            return [obj for _, obj in self.events if obj["metadata"]["name"] == name]

    def _run(self) -> None:
        try:
            self._watch()
        except BaseException as exc:  # handed to the test thread in __exit__
            self.error = exc

    def _watch(self) -> None:
        while not self._stop.is_set():
            query = f"?watch=1&allowWatchBookmarks=true&timeoutSeconds=2&resourceVersion={self._rv}"
            response = self._http.request("GET", self.url + query, preload_content=False)
            try:
                for line in response:
                    if not line.strip():
                        continue
                    event = json.loads(line)
                    obj = event["object"]
                    if event["type"] == "ERROR":
                        raise AssertionError(f"watch of {self.url} failed: {obj}")
                    self._rv = str(obj["metadata"]["resourceVersion"])
                    if event["type"] != "BOOKMARK":
                        with self._lock:
                            self.events.append((event["type"], obj))
            finally:
                response.release_conn()
