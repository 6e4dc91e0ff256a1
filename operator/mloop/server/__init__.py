"""The prediction server (``python -m mloop.server``): one SHA-256-checked ONNX model over REST and v2.

Layers, as in MLServer: ``rest`` (ASGI routing, bodies, errors) → ``dataplane`` (validation, metrics,
traffic log) → ``model`` (ONNX checks, session, signature, warm-up); ``settings`` holds every knob,
``validation`` and ``v2`` the request shapes, ``metrics`` the Prometheus registry and ``trafficlog`` the
S3 request log (its docstring documents the object layout). Nothing here imports scikit-learn.
"""

__all__: list[str] = []
