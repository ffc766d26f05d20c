"""A local SP-API server (LWA, Listings Items, Feeds, Product Type Definitions) for demo, tests, benchmarks."""

from .settings import Settings

__all__ = ["Settings", "create_app"]


def __getattr__(name: str) -> object:
    if name == "create_app":
        from .app import create_app

        return create_app
    raise AttributeError(name)
