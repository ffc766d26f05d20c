"""Provider metadata that registers the ``spapi`` connection type with Airflow.

Airflow finds it through the ``apache_airflow_provider`` entry point in pyproject.toml. The
connection form is declared with ``conn-fields`` (JSON schema per field), the way Airflow 3.2+
providers do it; ``format: password`` marks a field as sensitive so the UI and API mask it.
This module must stay import-light: Airflow reads it without importing the hook.
"""

from __future__ import annotations

from typing import Any

from spapi import __version__

REGION_ENUM = ["na", "eu", "fe"]
# spapi.config.ENVIRONMENTS, repeated here because this module must not import the client.
ENVIRONMENT_ENUM = ["sandbox", "dev", "stage", "prod"]

CONN_FIELDS: dict[str, dict[str, Any]] = {
    "environment": {
        "label": "Environment",
        "description": (
            "Required. prod may only reach Amazon's production SP-API and LWA; sandbox, dev and stage "
            "never: they need an endpoint override (local sandbox) or Amazon's sandbox.* hosts. "
            "A pipeline refuses a connection whose environment differs from its config's."
        ),
        "schema": {"type": "string", "enum": ENVIRONMENT_ENUM},
    },
    "refresh_token": {
        "label": "LWA refresh token",
        "description": "The seller's refresh token (Atzr|...), from authorising your app.",
        "schema": {"type": ["string", "null"], "format": "password"},
    },
    "region": {
        "label": "SP-API region",
        "description": "na (US, CA, MX, BR), eu (Europe, India, Middle East) or fe (JP, AU, SG).",
        "schema": {"type": "string", "enum": REGION_ENUM, "default": "na"},
    },
    "seller_id": {
        "label": "Seller id (merchant token)",
        "description": "Used in Listings API paths and to key the shared rate limiter.",
        "schema": {"type": ["string", "null"]},
    },
    "marketplace_ids": {
        "label": "Default marketplace ids",
        "description": "Comma-separated, e.g. ATVPDKIKX0DER,A2EUQ1WTGCTBG2.",
        "schema": {"type": ["string", "null"]},
    },
    "endpoint_url": {
        "label": "SP-API endpoint override",
        "description": "Leave empty for Amazon's regional endpoint; e.g. http://127.0.0.1:8900 for the local sandbox.",
        "schema": {"type": ["string", "null"]},
    },
    "token_url": {
        "label": "LWA token endpoint override",
        "description": "Leave empty for https://api.amazon.com/auth/o2/token.",
        "schema": {"type": ["string", "null"]},
    },
    "sigv4_enabled": {
        "label": "Sign requests with AWS SigV4",
        "description": "Amazon stopped requiring SigV4 on 2023-10-02; enable only if your setup needs it.",
        "schema": {"type": ["boolean", "null"], "default": False},
    },
    "aws_access_key_id": {
        "label": "AWS access key id (SigV4)",
        "description": "Optional. Without keys, botocore's default chain (env, profile, instance role) is used.",
        "schema": {"type": ["string", "null"], "format": "password"},
    },
    "aws_secret_access_key": {
        "label": "AWS secret access key (SigV4)",
        "description": "Optional, with the access key id.",
        "schema": {"type": ["string", "null"], "format": "password"},
    },
    "role_arn": {
        "label": "IAM role ARN to assume (SigV4)",
        "description": "Optional. Assumed through STS and refreshed before it expires.",
        "schema": {"type": ["string", "null"]},
    },
    "rate_limit_url": {
        "label": "Shared rate limiter",
        "description": "memory:// (one process), file:///path (one machine) or redis://host:6379/0 (many machines).",
        "schema": {"type": ["string", "null"]},
    },
    "token_cache_url": {
        "label": "Shared token cache",
        "description": "memory:// or redis://host:6379/0; tokens are stored encrypted.",
        "schema": {"type": ["string", "null"]},
    },
}


def get_provider_info() -> dict[str, Any]:
    return {
        "package-name": "spapi-listings",
        "name": "Amazon Selling Partner API (listings)",
        "description": "SP-API client, hook, operators and triggers for Amazon listings pipelines.",
        "versions": [__version__],
        "hooks": [{"integration-name": "Amazon Selling Partner API", "python-modules": ["spapi.hooks"]}],
        "triggers": [
            {"integration-name": "Amazon Selling Partner API", "python-modules": ["spapi.triggers"]}
        ],
        "connection-types": [
            {
                "hook-class-name": "spapi.hooks.SpApiHook",
                "hook-name": "Amazon Selling Partner API",
                "connection-type": "spapi",
                "ui-field-behaviour": {
                    "hidden-fields": ["host", "schema", "port"],
                    "relabeling": {"login": "LWA client id", "password": "LWA client secret"},
                    "placeholders": {"login": "amzn1.application-oa2-client....", "password": ""},
                },
                "conn-fields": CONN_FIELDS,
            }
        ],
    }
