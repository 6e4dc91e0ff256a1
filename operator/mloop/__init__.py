"""mloop: a Kubernetes operator that runs the machine-learning lifecycle as one loop."""

__all__ = ["__version__"]

__version__ = "0.1.0"
