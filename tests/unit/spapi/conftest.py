"""Fixtures every SP-API unit test module shares (helpers that are not fixtures are in ``fakes``)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from spapi.auth import clear_process_cache


@pytest.fixture(autouse=True)
def _fresh_tokens() -> Iterator[None]:
    """No LWA token cached in this process leaks into or out of a test."""
    clear_process_cache()
    yield
    clear_process_cache()
