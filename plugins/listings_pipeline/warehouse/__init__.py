"""The warehouse: SQLAlchemy 2 models, Alembic migrations, analyst views, ledger and lifecycle.

- :mod:`.models`: the tables (typed ORM) and the state enums;
- :mod:`.db`: the URL (Airflow connection, ``$SPAPI_WAREHOUSE_URL`` or ``var/warehouse.db``), engines,
  sessions, and :func:`~.db.upgrade` / :func:`~.db.downgrade`;
- :mod:`.ledger`: ``publish_attempts``, so a document is never submitted twice;
- :mod:`.lifecycle`: listing and dead-letter state transitions, each one recorded;
- :mod:`.records`: rows for ``api_calls`` and ``listing_issues`` from the ``spapi`` models.

Analyst views (created by the migrations; same columns on SQLite and PostgreSQL, times bucketed in UTC):

- ``v_listing_status``: per listing, its status and since when, ``in_sync`` (Amazon accepted the
  wanted payload), and the error / warning counts of its most recent batch of issues while that batch
  is current (no move to ``ready`` or ``submitted`` since);
- ``v_feed_health``: per day and seller, feeds by processing status, message figures, and average /
  max processing time and average turnaround in seconds (Amazon's processing times);
- ``v_issues_by_code``: per code, severity and source, issues, distinct listings, first and last seen;
- ``v_api_call_stats``: per operation and hour, calls, throttled calls and share, failures, latency
  avg / p50 (median) / p95 (nearest rank) / max, limiter wait;
- ``v_backlog``: listings the catalog wants that Amazon does not have as wanted (a payload not
  accepted yet, or none built yet while ``draft`` / ``quarantined``), with their age and when they
  first went live (``went_live_at``, ``NULL`` if never).

``python -m listings_pipeline.warehouse upgrade [--url URL]`` migrates from the command line.
"""
