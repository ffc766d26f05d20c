"""An SP-API client for listings work: LWA auth, optional SigV4, shared rate limits, retries, typed calls.

Usable on its own (no Airflow import here or in anything but ``hooks``, ``operators``, ``triggers``).
"""

from __future__ import annotations

__version__ = "0.1.0"
