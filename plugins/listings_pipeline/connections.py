"""The gate before a run touches SP-API: every connection it needs is usable and of its environment.

A run that finds a broken connection halfway through has already submitted some sellers' feeds and
not others, and a config pointed at a connection of another environment (a sandbox catalog at a live
seller, or the reverse) would write to the wrong account. So the first task loads every connection
up front and fails on all problems at once, each naming the connection id and the field to fix.
"""

from __future__ import annotations

from collections.abc import Iterable

from airflow.sdk.exceptions import AirflowNotFoundException

from listings_pipeline.config import PipelineConfig
from spapi.config import ENVIRONMENTS, SpApiConfig
from spapi.errors import ConnectionProblem, SpApiConnectionError
from spapi.hooks import SpApiHook

# the DAGs catch the gate's error from here: they depend on the pipeline, the pipeline on spapi
__all__ = ["SpApiConnectionError", "check_connections"]


def check_connections(
    config: PipelineConfig, conn_ids: Iterable[str] | None = None
) -> dict[str, SpApiConfig]:
    """Load every named ``spapi`` connection through the hook and check it against ``config``.

    :param config: the pipeline config the run uses; its ``environment`` must be set.
    :param conn_ids: the connections to check; by default every ``spapi_conn_id`` of its sellers.
    :returns: each connection's parsed config, by connection id.
    :raises SpApiConnectionError: listing every problem of every connection: undefined, unusable
        (see :class:`spapi.hooks.SpApiHook`), of another environment than the config, or serving
        another region or seller than the config's sellers that use it.
    """
    ids = list(dict.fromkeys(conn_ids if conn_ids is not None else (s.spapi_conn_id for s in config.sellers)))
    problems: list[ConnectionProblem] = []
    loaded: dict[str, SpApiConfig] = {}
    for conn_id in ids:
        try:
            loaded[conn_id] = SpApiHook(conn_id).conn_config
        except AirflowNotFoundException:
            problems.append(
                ConnectionProblem(
                    conn_id,
                    "conn_id",
                    "is not defined (no Airflow connection, AIRFLOW_CONN_ variable or secrets backend entry)",
                )
            )
        except SpApiConnectionError as err:
            problems.extend(err.problems)
    for conn_id, conn in loaded.items():
        problems.extend(_against_config(conn_id, conn, config))
    if problems:
        raise SpApiConnectionError(problems)
    return loaded


def _against_config(conn_id: str, conn: SpApiConfig, config: PipelineConfig) -> list[ConnectionProblem]:
    problems: list[ConnectionProblem] = []
    if config.environment is None:
        problems.append(
            ConnectionProblem(
                conn_id,
                "extra.environment",
                f"connection {conn_id} is environment {conn.environment} but the pipeline config states "
                f"no environment; add 'environment: <{'|'.join(ENVIRONMENTS)}>' to the config",
            )
        )
    elif conn.environment != config.environment:
        problems.append(
            ConnectionProblem(
                conn_id,
                "extra.environment",
                f"connection {conn_id} is environment {conn.environment} but the pipeline config is "
                f"{config.environment}; a config never runs against a connection of another environment",
            )
        )
    for seller in config.sellers:
        if seller.spapi_conn_id != conn_id:
            continue
        if conn.region != seller.region:
            problems.append(
                ConnectionProblem(
                    conn_id,
                    "extra.region",
                    f"is {conn.region} but seller {seller.seller_id} in the pipeline config is in region "
                    f"{seller.region}",
                )
            )
        if conn.seller_id and conn.seller_id != seller.seller_id:
            problems.append(
                ConnectionProblem(
                    conn_id,
                    "extra.seller_id",
                    f"is {conn.seller_id} but the pipeline config uses this connection for seller "
                    f"{seller.seller_id}",
                )
            )
    return problems
