"""``SpApiHook``: an Airflow connection in, an SP-API client out, and nothing else.

Shaped like the Amazon provider's ``AwsBaseHook``: class attributes name the connection type, a
cached ``conn_config`` parses the connection once, every secret that enters the process is masked
with ``mask_secret``, and ``test_connection`` makes one cheap call (an LWA token request).

The connection is read strictly, because Airflow's ``Connection.extra_dejson`` turns a malformed
extra into ``{}`` with only a log line, and an empty extra meant "Amazon's production endpoints":
a typo in a test connection could send a seller's real refresh token to the live API.
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Mapping
from functools import cached_property
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseHook
from airflow.sdk.log import mask_secret
from pydantic import ValidationError

from spapi.client import AsyncSpApiClient, SpApiClient
from spapi.config import ENVIRONMENTS, SpApiConfig, endpoint_problems
from spapi.errors import ConnectionProblem, SpApiConnectionError, SpApiError
from spapi.regions import LWA_TOKEN_URL, MARKETPLACES, REGIONS

if TYPE_CHECKING:
    from airflow.sdk import Connection

PREFIX = "extra__spapi__"
SECRET_FIELDS = ("client_secret", "refresh_token", "aws_secret_access_key", "aws_session_token")
# Every key a ``spapi`` connection's extra may hold (plain, or with the form's ``extra__spapi__``
# prefix): the SpApiConfig fields minus the two that come from login and password.
EXTRA_KEYS: tuple[str, ...] = tuple(
    n for n in SpApiConfig.model_fields if n not in ("client_id", "client_secret")
)
_MISPLACED = {
    "client_id": "the LWA client id belongs in the connection's login, not in extra",
    "login": "the LWA client id belongs in the connection's login, not in extra",
    "client_secret": "the LWA client secret belongs in the connection's password, not in extra",
    "password": "the LWA client secret belongs in the connection's password, not in extra",
}


def _read_extra(raw: Any) -> tuple[dict[str, Any], list[tuple[str, str]]]:
    """The extra as a dict, or the reason it is unusable (a JSON error's position, never its text)."""
    if raw is None or raw == "":
        return {}, []
    if isinstance(raw, Mapping):
        return dict(raw), []
    if not isinstance(raw, str):
        return {}, [("extra", f"must be a JSON object, got {type(raw).__name__}")]
    try:
        data = json.loads(raw)
    except json.JSONDecodeError as err:
        return {}, [
            (
                "extra",
                f"is not valid JSON ({err.msg} at line {err.lineno} column {err.colno}); "
                "refusing to fall back to defaults",
            )
        ]
    if not isinstance(data, dict):
        return {}, [("extra", f"must be a JSON object, got a JSON {type(data).__name__}")]
    return data, []


def _unknown_key(key: str) -> str:
    name = key.removeprefix(PREFIX)
    if name in _MISPLACED:
        return _MISPLACED[name]
    close = difflib.get_close_matches(name, EXTRA_KEYS, n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    return f"unknown key{hint}; accepted keys: {', '.join(EXTRA_KEYS)}"


def _extra_fields(extra: Mapping[str, Any]) -> tuple[dict[str, Any], list[tuple[str, str]]]:
    """Plain ``name`` wins over the older form's ``extra__spapi__name``; empty values are absent."""
    fields: dict[str, Any] = {}
    problems: list[tuple[str, str]] = []
    for key in extra:
        name = key.removeprefix(PREFIX)
        if name not in EXTRA_KEYS:
            shown = key if re.fullmatch(r"[\w.-]{1,64}", key) else f"<key of {len(key)} characters>"
            problems.append((f"extra.{shown}", _unknown_key(key)))
    for name in EXTRA_KEYS:
        value = extra.get(name)
        if value in (None, ""):
            value = extra.get(PREFIX + name)
        if value not in (None, ""):
            fields[name] = value
    return fields, problems


def _field_problems(fields: Mapping[str, Any], *, require_refresh_token: bool) -> list[tuple[str, str]]:
    """What the client cannot work without, and the two settings that pick where requests go."""
    problems: list[tuple[str, str]] = []
    if not fields.get("client_id"):
        problems.append(("login", "missing: the LWA client id of the app (amzn1.application-oa2-client...)"))
    if not fields.get("client_secret"):
        problems.append(("password", "missing: the LWA client secret of the app"))
    refresh = fields.get("refresh_token")
    if require_refresh_token and not refresh:
        problems.append(("extra.refresh_token", "missing: seller calls need the seller's LWA refresh token"))
    elif isinstance(refresh, str) and refresh.startswith("Atza|"):
        problems.append(
            ("extra.refresh_token", "holds an access token (Atza|...), not a refresh token (Atzr|...)")
        )
    region = fields.get("region", "na")
    if not isinstance(region, str) or region.lower() not in REGIONS:
        problems.append(
            ("extra.region", f"{_shown(region)} is not an SP-API region; one of {', '.join(REGIONS)}")
        )
    marketplaces = fields.get("marketplace_ids")
    if isinstance(marketplaces, str):
        marketplaces = marketplaces.split(",")
    if isinstance(marketplaces, list | tuple):
        unknown = [str(m).strip() for m in marketplaces if str(m).strip() not in MARKETPLACES]
        if unknown:
            shown = ", ".join(
                repr(m) if re.fullmatch(r"[A-Z0-9]{8,16}", m) else f"a {len(m)}-character value (not shown)"
                for m in unknown
            )
            problems.append(("extra.marketplace_ids", f"unknown marketplace ids: {shown}"))
    environment = fields.get("environment")
    if environment is None:
        problems.append(
            (
                "extra.environment",
                f"missing: state the connection's environment, one of {', '.join(ENVIRONMENTS)}",
            )
        )
    elif environment not in ENVIRONMENTS:
        problems.append(
            (
                "extra.environment",
                f"{_shown(environment)} is not an environment; one of {', '.join(ENVIRONMENTS)}",
            )
        )
    return problems


def _shown(value: Any) -> str:
    """A value for an error, only when it is short and word-like: a secret pasted into the wrong
    field (a region, an environment) must not be quoted, not even in part."""
    if isinstance(value, str):
        if len(value) <= 16 and re.fullmatch(r"[\w.-]*", value):
            return repr(value)
        return f"a {len(value)}-character value (not shown)"
    return type(value).__name__


def _as_bool(value: Any) -> bool:
    return value is True or str(value).strip().lower() in ("true", "1", "yes", "on")


def config_from_connection(
    conn: Connection, *, require_refresh_token: bool = True, **overrides: Any
) -> SpApiConfig:
    """Build an :class:`SpApiConfig` from a ``spapi`` connection, or say everything wrong with it.

    Precedence: keyword ``overrides`` > connection extras > defaults. ``login`` is the LWA client id
    and ``password`` the client secret; everything else lives in ``extra`` (keys: ``EXTRA_KEYS``,
    form fields in provider_info.py). ``endpoint_url`` points the client at the local sandbox, like
    the AWS connection's ``endpoint_url`` points at LocalStack. ``require_refresh_token=False`` is for
    a grantless-only client (notifications), the one kind that works without a seller's grant.

    Raises :class:`SpApiConnectionError` listing every problem, each naming the connection id and
    the field; values are quoted only for fields that cannot hold a secret.
    """
    extra, found = _read_extra(conn.extra)
    if conn.conn_type and conn.conn_type != SpApiHook.conn_type:
        found.insert(0, ("conn_type", f"is {_shown(conn.conn_type)}, not {SpApiHook.conn_type!r}"))
    from_extra, unknown = _extra_fields(extra)
    found += unknown
    fields: dict[str, Any] = {
        "client_id": conn.login or "",
        "client_secret": conn.password or "",
        **from_extra,
    }
    fields.update(overrides)
    for secret in SECRET_FIELDS:
        value = fields.get(secret)
        if isinstance(value, str) and value:
            mask_secret(value)
    found += _field_problems(fields, require_refresh_token=require_refresh_token)
    reported = {_field_name(where) for where, _ in found}

    environment = fields.pop("environment", None)
    config: SpApiConfig | None = None
    try:
        config = SpApiConfig(**fields)
    except ValidationError as err:
        for error in err.errors(include_url=False, include_input=False, include_context=False):
            name = str(error["loc"][0]) if error["loc"] else None
            if name in reported or (name is None and found):
                # A check across fields (the AWS key pair) means something only once the
                # fields themselves are sound; the field's own problem is already listed.
                continue
            message = str(error["msg"]).removeprefix("Value error, ")
            found.append(("extra" if name is None else _origin(name, overrides), message))

    if environment in ENVIRONMENTS and "region" not in reported:
        where: tuple[str, Any, Any, bool]
        if config is not None:
            where = (config.region, config.endpoint_url, config.token_url, config.use_sandbox)
        else:
            where = (
                str(fields.get("region", "na")).lower(),
                fields.get("endpoint_url"),
                fields.get("token_url") or LWA_TOKEN_URL,
                _as_bool(fields.get("use_sandbox", False)),
            )
        region, endpoint, token, sandbox = where
        if (endpoint is None or isinstance(endpoint, str)) and isinstance(token, str):
            for name, reason in endpoint_problems(
                environment, region=region, endpoint_url=endpoint, token_url=token, use_sandbox=sandbox
            ):
                found.append((_origin(name, overrides), reason))

    if found or config is None:
        conn_id = conn.conn_id or "(unnamed)"
        secrets = [v for k in SECRET_FIELDS if isinstance(v := fields.get(k), str) and len(v) >= 4]
        raise SpApiConnectionError(
            [
                ConnectionProblem(conn_id, _redact(field, secrets), _redact(reason, secrets))
                for field, reason in found
            ]
        )
    return SpApiConfig(**fields, environment=environment)


def _redact(text: str, secrets: list[str]) -> str:
    """Second guard: a reason built from a value (a marketplace id, a key) never echoes a secret."""
    for secret in secrets:
        text = text.replace(secret, "***")
    return text


def _field_name(where: str) -> str:
    """The SpApiConfig field behind a problem's location (``extra.region`` -> ``region``)."""
    return {"login": "client_id", "password": "client_secret"}.get(where, where.split(".", 1)[-1])


def _origin(name: str, overrides: Mapping[str, Any]) -> str:
    if name in overrides:
        return f"config_overrides.{name}"
    return {"client_id": "login", "client_secret": "password"}.get(name, f"extra.{name}")


class SpApiHook(BaseHook):
    """Interact with Amazon's Selling Partner API through a ``spapi`` connection.

    The connection: ``login`` is the LWA client id, ``password`` the client secret, ``extra`` a
    JSON object with the keys of ``EXTRA_KEYS`` (unknown keys are refused, so a typo cannot silently
    drop a setting). ``extra.environment`` is required: ``sandbox``, ``dev``, ``stage`` or ``prod``.
    The endpoints must fit it, because a seller's refresh token works against the live API from
    anywhere (the full rule is :func:`spapi.config.endpoint_problems`):

    * ``prod``: Amazon only. No ``endpoint_url`` (or exactly the region's
      ``https://sellingpartnerapi-<region>.amazon.com``), no ``use_sandbox``, no ``token_url`` (or
      exactly ``https://api.amazon.com/auth/o2/token``).
    * ``sandbox``, ``dev``, ``stage``: never Amazon's live SP-API. An ``endpoint_url`` outside
      ``amazon.com`` (the local sandbox at ``http://127.0.0.1:8900``, a mock) or on Amazon's
      ``sandbox.sellingpartnerapi-<region>.amazon.com``, or ``use_sandbox: true``. Leaving
      ``endpoint_url`` empty without ``use_sandbox`` is refused: it would mean production.

    Every problem (unreadable extra, unknown key, missing client id, secret or refresh token,
    unknown region or environment, an endpoint that does not fit the environment, a value of the
    wrong type) is raised together as one :class:`spapi.errors.SpApiConnectionError` naming the
    connection id and the field, never a secret.

    :param spapi_conn_id: the connection id (conn type ``spapi``).
    :param config_overrides: fields of :class:`spapi.config.SpApiConfig` that win over the
        connection, e.g. ``{"rate_limit_url": "redis://redis:6379/0"}``.
    :param require_refresh_token: ``False`` only for a grantless-only client.
    """

    conn_name_attr = "spapi_conn_id"
    default_conn_name = "spapi_default"
    conn_type = "spapi"
    hook_name = "Amazon Selling Partner API"

    def __init__(
        self,
        spapi_conn_id: str = default_conn_name,
        config_overrides: Mapping[str, Any] | None = None,
        require_refresh_token: bool = True,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.spapi_conn_id = spapi_conn_id
        self.config_overrides = dict(config_overrides or {})
        self.require_refresh_token = require_refresh_token

    def _config(self, conn: Connection) -> SpApiConfig:
        return config_from_connection(
            conn, require_refresh_token=self.require_refresh_token, **self.config_overrides
        )

    @cached_property
    def conn_config(self) -> SpApiConfig:
        return self._config(self.get_connection(self.spapi_conn_id))

    def get_client(self, **kwargs: Any) -> SpApiClient:
        """A new sync client; every access token it mints is masked in task logs."""
        return SpApiClient(self.conn_config, on_token=mask_secret, **kwargs)

    def get_async_client(self, **kwargs: Any) -> AsyncSpApiClient:
        return AsyncSpApiClient(self.conn_config, on_token=mask_secret, **kwargs)

    async def aget_async_client(self, **kwargs: Any) -> AsyncSpApiClient:
        """For triggers: reads the connection without blocking the triggerer's event loop."""
        if "conn_config" not in self.__dict__:
            conn = await self.aget_connection(self.spapi_conn_id)
            self.__dict__["conn_config"] = self._config(conn)
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


def connection_extra_json(*, environment: str, **fields: Any) -> str:
    """Helper for tests and docs: the ``extra`` JSON of a ``spapi`` connection.

    ``environment`` is keyword-required because a connection without one is refused.
    """
    unknown = set(fields) - set(EXTRA_KEYS)
    if unknown:
        raise ValueError(f"not spapi extra keys: {sorted(unknown)}")
    return json.dumps({"environment": environment} | {k: v for k, v in fields.items() if v is not None})
