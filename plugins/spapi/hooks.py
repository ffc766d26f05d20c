"""``SpApiHook``: an Airflow connection in, an SP-API client out, and nothing else.

Shaped like the Amazon provider's ``AwsBaseHook``: class attributes name the connection type, a
cached ``conn_config`` parses the connection once, every secret that enters the process is masked
with ``mask_secret``, and ``test_connection`` makes one cheap call (an LWA token request).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from functools import cached_property
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseHook
from airflow.sdk.log import mask_secret

from spapi.client import AsyncSpApiClient, SpApiClient
from spapi.config import SpApiConfig
from spapi.errors import SpApiError

if TYPE_CHECKING:
    from airflow.sdk import Connection


def _extra_value(extra: Mapping[str, Any], name: str) -> Any:
    """Read an extra written by the UI form or by hand: plain ``name`` wins over ``extra__spapi__name``."""
    value = extra.get(name)
    if value in (None, ""):
        value = extra.get(f"extra__spapi__{name}")
    return None if value == "" else value


def config_from_connection(conn: Connection, **overrides: Any) -> SpApiConfig:
    """Build an :class:`SpApiConfig` from a ``spapi`` connection.

    Precedence: keyword ``overrides`` > connection extras > defaults. ``login`` is the LWA client id
    and ``password`` the client secret; everything else lives in ``extra`` (see provider_info.py for
    the field list). ``endpoint_url`` points the client at the local sandbox, like the AWS
    connection's ``endpoint_url`` points at LocalStack.
    """
    extra = conn.extra_dejson if conn.extra else {}
    fields: dict[str, Any] = {"client_id": conn.login or "", "client_secret": conn.password or ""}
    for name in SpApiConfig.model_fields:
        if name in ("client_id", "client_secret"):
            continue
        value = _extra_value(extra, name)
        if value is not None:
            fields[name] = value
    fields.update(overrides)
    for secret in ("client_secret", "refresh_token", "aws_secret_access_key", "aws_session_token"):
        value = fields.get(secret)
        if isinstance(value, str) and value:
            mask_secret(value)
    return SpApiConfig(**fields)


class SpApiHook(BaseHook):
    """Interact with Amazon's Selling Partner API through a ``spapi`` connection.

    :param spapi_conn_id: the connection id (conn type ``spapi``).
    :param config_overrides: fields of :class:`spapi.config.SpApiConfig` that win over the
        connection, e.g. ``{"rate_limit_url": "redis://redis:6379/0"}``.
    """

    conn_name_attr = "spapi_conn_id"
    default_conn_name = "spapi_default"
    conn_type = "spapi"
    hook_name = "Amazon Selling Partner API"

    def __init__(
        self,
        spapi_conn_id: str = default_conn_name,
        config_overrides: Mapping[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.spapi_conn_id = spapi_conn_id
        self.config_overrides = dict(config_overrides or {})

    @cached_property
    def conn_config(self) -> SpApiConfig:
        conn = self.get_connection(self.spapi_conn_id)
        return config_from_connection(conn, **self.config_overrides)

    def get_client(self, **kwargs: Any) -> SpApiClient:
        """A new sync client; every access token it mints is masked in task logs."""
        return SpApiClient(self.conn_config, on_token=mask_secret, **kwargs)

    def get_async_client(self, **kwargs: Any) -> AsyncSpApiClient:
        return AsyncSpApiClient(self.conn_config, on_token=mask_secret, **kwargs)

    async def aget_async_client(self, **kwargs: Any) -> AsyncSpApiClient:
        """For triggers: reads the connection without blocking the triggerer's event loop."""
        if "conn_config" not in self.__dict__:
            conn = await self.aget_connection(self.spapi_conn_id)
            self.__dict__["conn_config"] = config_from_connection(conn, **self.config_overrides)
        return self.get_async_client(**kwargs)

    @cached_property
    def client(self) -> SpApiClient:
        return self.get_client()

    def test_connection(self) -> tuple[bool, str]:
        """One LWA token request: proves the client id, secret and refresh token work together."""
        try:
            tokens = self.client.tokens
            if tokens is None:
                return False, "the connection has no refresh token"
            tokens.get_token()
        except SpApiError as err:
            return False, str(err)
        except ValueError as err:
            return False, f"invalid connection settings: {err}"
        return True, f"LWA token obtained for region {self.conn_config.region}"

    def __repr__(self) -> str:
        return f"SpApiHook(spapi_conn_id={self.spapi_conn_id!r})"


def connection_extra_json(**fields: Any) -> str:
    """Helper for tests and docs: the ``extra`` JSON of a ``spapi`` connection."""
    return json.dumps({k: v for k, v in fields.items() if v is not None})
