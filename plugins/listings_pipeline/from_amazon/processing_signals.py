"""Has Amazon said a feed or a report ended? The waits' shortcut (``ProcessingTrigger(wake_check=...)``).

A feed wait polls getFeed, a report wait getReport, at a growing interval (minutes, later on).
When the seller subscribes to ``FEED_PROCESSING_FINISHED`` and ``REPORT_PROCESSING_FINISHED``, the
``amazon_notifications`` DAG records each in ``amazon_notifications``, with the feed's or report's
id, within seconds of Amazon sending it; the trigger asks :func:`processing_finished` every few
seconds between polls, and polls at once when it says yes. The poll, not the notification, still
decides the outcome (getFeed and getReport give the document), and a wait whose notification never
comes simply polls on.

One function serves both waits: the trigger says which kind it waits for.
Called in the triggerer, in a thread: one engine per warehouse URL per process, reused.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

    from listings_pipeline.config import PipelineConfig

WAKE_CHECK = "listings_pipeline.from_amazon.processing_signals.processing_finished"
#: the notification that says a resource of each kind ended
FINISHED = {"feed": "FEED_PROCESSING_FINISHED", "report": "REPORT_PROCESSING_FINISHED"}


def wake_check_for(config: PipelineConfig) -> str | None:
    """The waits' wake check when the config has a notifications queue (the setup subscribes its
    sellers to both notifications), else ``None``: nothing would ever be recorded to find."""
    return WAKE_CHECK if config.notifications is not None else None


@functools.cache
def _engine(url: str) -> Engine:
    from listings_pipeline.warehouse.db import make_engine

    return make_engine(url, read_only=True)


def processing_finished(kind: str, resource_id: str) -> bool:
    """True when the notification that a ``kind`` (``feed`` or ``report``) ended is recorded for
    ``resource_id``; False for any other kind."""
    from sqlalchemy import select

    from listings_pipeline.config import load_config
    from listings_pipeline.warehouse.db import warehouse_url
    from listings_pipeline.warehouse.models import AmazonNotification

    notification_type = FINISHED.get(kind)
    if notification_type is None:
        return False
    column = AmazonNotification.feed_id if kind == "feed" else AmazonNotification.report_id
    engine = _engine(warehouse_url(load_config().warehouse_conn_id))
    with engine.connect() as conn:
        found = conn.execute(
            select(AmazonNotification.notification_id)
            .where(AmazonNotification.notification_type == notification_type, column == resource_id)
            .limit(1)
        ).first()
    return found is not None
