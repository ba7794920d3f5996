"""nativecar: move Kubernetes manifests onto native sidecars."""

__version__ = "0.1.0"
