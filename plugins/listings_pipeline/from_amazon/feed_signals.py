"""Has Amazon said a feed ended? The feed wait's shortcut (``FeedProcessingTrigger(wake_check=...)``).

The wait polls getFeed at a growing interval (minutes, later on). When the seller subscribes to
``FEED_PROCESSING_FINISHED``, the ``amazon_notifications`` DAG records that notification in
``amazon_notifications`` (with the feed's id) within seconds of Amazon sending it; the trigger asks
:func:`feed_finished` every few seconds between polls, and polls at once when it says yes. The
poll, not the notification, still decides the outcome (getFeed gives the result document), and a
wait whose notification never comes simply polls on.

Called in the triggerer, in a thread: one engine per warehouse URL per process, reused.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

FEED_WAKE_CHECK = "listings_pipeline.from_amazon.feed_signals.feed_finished"
FEED = "FEED_PROCESSING_FINISHED"


@functools.cache
def _engine(url: str) -> Engine:
    from listings_pipeline.warehouse.db import make_engine

    return make_engine(url, read_only=True)


def feed_finished(kind: str, feed_id: str) -> bool:
    """True when a FEED_PROCESSING_FINISHED notification for ``feed_id`` is in the warehouse."""
    from sqlalchemy import select

    from listings_pipeline.config import load_config
    from listings_pipeline.warehouse.db import warehouse_url
    from listings_pipeline.warehouse.models import AmazonNotification

    if kind != "feed":
        return False
    engine = _engine(warehouse_url(load_config().warehouse_conn_id))
    with engine.connect() as conn:
        found = conn.execute(
            select(AmazonNotification.notification_id)
            .where(AmazonNotification.notification_type == FEED, AmazonNotification.feed_id == feed_id)
            .limit(1)
        ).first()
    return found is not None
