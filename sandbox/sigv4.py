"""Optional AWS SigV4 verification (``Settings.sigv4``), recomputed with botocore.

Amazon stopped requiring SigV4 in 2023 and ignores signatures; the sandbox can check them so the
client's optional signing is tested end to end. The signature is recomputed over the headers the
request names in ``SignedHeaders``, with the date from ``x-amz-date`` and the key from the credential
scope, and compared in constant time.
"""

from __future__ import annotations

import hmac
import re
from urllib.parse import parse_qsl

import botocore.auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

_AUTH = re.compile(
    r"^AWS4-HMAC-SHA256\s+Credential=(?P<key>[^/,\s]+)/(?P<date>\d{8})/(?P<region>[^/]+)/(?P<service>[^/]+)/aws4_request,\s*"
    r"SignedHeaders=(?P<headers>[^,\s]+),\s*Signature=(?P<signature>[0-9a-f]{64})$"
)


class SignatureError(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class _FixedDateSigV4(botocore.auth.SigV4Auth):
    def __init__(self, credentials: Credentials, service: str, region: str, timestamp: str) -> None:
        super().__init__(credentials, service, region)
        self._timestamp = timestamp

    def compute(self, request: AWSRequest) -> str:
        request.context["timestamp"] = self._timestamp
        canonical = self.canonical_request(request)
        return str(self.signature(self.string_to_sign(request, canonical), request))


def verify(
    method: str,
    url: str,
    headers: dict[str, str],
    body: bytes,
    keys: dict[str, str],
) -> None:
    """Raise :class:`SignatureError` unless ``headers['authorization']`` signs this request."""
    lowered = {k.lower(): v for k, v in headers.items()}
    auth = lowered.get("authorization")
    if not auth:
        raise SignatureError("MissingAuthenticationToken", "Missing Authentication Token")
    match = _AUTH.match(auth.strip())
    if not match:
        raise SignatureError(
            "IncompleteSignature", "Authorization header requires a valid AWS4-HMAC-SHA256 value."
        )
    secret = keys.get(match["key"])
    if secret is None:
        raise SignatureError("InvalidClientTokenId", "The security token included in the request is invalid.")
    timestamp = lowered.get("x-amz-date", "")
    if not timestamp.startswith(match["date"]):
        raise SignatureError("IncompleteSignature", "x-amz-date does not match the credential scope date.")
    signed = match["headers"].split(";")
    aws_headers = {}
    for name in signed:
        if name not in lowered:
            raise SignatureError(
                "IncompleteSignature", f"Signed header {name!r} is missing from the request."
            )
        aws_headers[name] = lowered[name]
    query = url.split("?", 1)[1] if "?" in url else ""
    params = parse_qsl(query, keep_blank_values=True)
    request = AWSRequest(method=method, url=url, data=body, headers=aws_headers, params=params)
    token = lowered.get("x-amz-security-token")
    credentials = Credentials(match["key"], secret, token)
    signer = _FixedDateSigV4(credentials, match["service"], match["region"], timestamp)
    # botocore signs exactly the headers present on the AWSRequest, in its own canonical order
    expected = signer.compute(request)
    if not hmac.compare_digest(expected, match["signature"]):
        raise SignatureError(
            "InvalidSignature",
            "The request signature we calculated does not match the signature you provided. "
            "Check your AWS Secret Access Key and signing method.",
        )
