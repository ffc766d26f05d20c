"""The Assets the DAGs update, defined once so that producers and consumers name the same URI.

The scheme starts with ``x-``: Airflow treats such schemes as user-defined and does not look for a
provider to normalise them. Any other unknown scheme makes Airflow load every installed provider's
Asset handlers (boto3 and the S3 hook among them) while the DAG file is parsed.
"""

from __future__ import annotations

from airflow.sdk import Asset

RUN_SUMMARIES = Asset("x-spapi-listings://warehouse/run_summaries")
"""Updated by every run that writes ``run_summaries``; the event's ``extra`` holds the run's totals."""
