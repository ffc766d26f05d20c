"""Airflow for DAG tests: a metadata DB in the session's own AIRFLOW_HOME (set in tests/conftest.py).

``dag.test()`` needs an initialised metadata DB; ``initdb()`` runs once per session (about 5 s).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest


@pytest.fixture(scope="session")
def airflow_db() -> Iterator[None]:
    from airflow.utils import db

    db.initdb()
    yield
