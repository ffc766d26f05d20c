"""The Assets the DAGs update, defined once so that producers and consumers name the same URI."""

from __future__ import annotations

from airflow.sdk import Asset

RUN_SUMMARIES = Asset("spapi-listings://warehouse/run_summaries")
"""Updated by every run that writes ``run_summaries``; the event's ``extra`` holds the run's totals."""
