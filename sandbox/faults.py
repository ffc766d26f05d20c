"""Fault injection, deterministic for a given seed and call order.

Rules are set with ``POST /_sandbox/faults`` (``{"seed": 7, "rules": [...]}``, replacing the current
set), from ``Settings.faults``, or cleared with ``DELETE /_sandbox/faults``. A rule::

    {"kind": "throttle", "operation": "getListingsItem", "count": 3}     # the next 3 calls get 429
    {"kind": "throttle", "operation": "*", "probability": 0.2}           # 20 % of all SP-API calls
    {"kind": "error", "status": 503, "operation": "createFeed", "count": 1}
    {"kind": "error", "status": 400, "operation": "patchListingsItem", "count": 1}  # InvalidInput
    {"kind": "latency", "seconds": 0.5, "operation": "*"}                # added before answering
    {"kind": "drop", "operation": "getFeed", "count": 1}                 # close without an answer
    {"kind": "late_answer", "seconds": 3, "operation": "createFeed"}     # carried out, answered late
    {"kind": "drop_answer", "operation": "createFeed", "count": 1}       # carried out, answer never sent
    {"kind": "token_expiry", "seconds": 2}      # access tokens die 2 s after issue (expires_in still says 3600)
    {"kind": "feed_fatal", "count": 1}          # the next feed ends FATAL with an error report
    {"kind": "feed_cancelled", "count": 1}      # the next feed ends CANCELLED (no report)
    {"kind": "feed_stuck", "count": 1}          # the next feed stays IN_PROGRESS until the rule is cleared
    {"kind": "report_unknown_message_ids", "count": 1}  # the next report names messageIds not in the feed
    {"kind": "report_fatal", "count": 1}        # the next requested report (Reports API) ends FATAL

``latency`` and ``drop`` act before the call is looked at, so Amazon did nothing. ``late_answer`` and
``drop_answer`` act on a call the gate admitted, after it was carried out: a client whose read
timeout is shorter than ``seconds``, or whose line is cut, cannot tell that Amazon did act (a feed
was created, a listing written), which is the case a non-idempotent call must survive.

The LWA token endpoint (``POST /auth/o2/token``) is the operation ``lwaToken``, so that a test can
simulate an LWA outage while SP-API stays up. It takes ``error`` (5xx only, answered in LWA's shape:
500 ``server_error``, 503 and others ``temporarily_unavailable``), ``latency`` (a client with a
shorter read timeout times out) and ``drop``; ``"*"`` never matches it::

    {"kind": "error", "status": 503, "operation": "lwaToken", "count": 3}    # the next 3 token requests
    {"kind": "error", "status": 500, "operation": "lwaToken", "duration": 30}  # every one for 30 s
    {"kind": "latency", "seconds": 5, "operation": "lwaToken", "count": 1}  # one slow answer
    {"kind": "drop", "operation": "lwaToken", "duration": 10}               # cut lines for 10 s

``operation`` (default ``"*"``: every SP-API operation) is an SP-API operationId or ``lwaToken``;
``count`` limits how many times a rule fires (absent: unlimited); ``duration`` limits how long, in
seconds from when the rules were set (absent: until cleared; a ``feed_stuck`` rule past its duration
counts as cleared); ``probability`` (default 1) draws from one ``random.Random(seed)``. Faulted token
requests are not in ``/_sandbox/calls`` (that lists SP-API operations); each rule's ``fired`` says
how many times it answered.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

KINDS = {
    "throttle",
    "error",
    "latency",
    "drop",
    "token_expiry",
    "feed_fatal",
    "feed_cancelled",
    "feed_stuck",
    "report_unknown_message_ids",
    "report_fatal",
    "late_answer",
    "drop_answer",
}
CALL_KINDS = ("latency", "drop", "error", "throttle", "late_answer", "drop_answer")
# Error faults answer as Amazon does (code, message): 5xx, or these client errors.
CLIENT_ERRORS = {
    400: ("InvalidInput", "Invalid input."),
    403: ("Unauthorized", "Access to requested resource is denied."),
    404: ("NotFound", "Resource not found."),
}
SERVER_ERRORS = {
    503: ("ServiceUnavailable", "Service temporarily unavailable."),
}
INTERNAL_FAILURE = ("InternalFailure", "We encountered an internal error.")

LWA_OPERATION = "lwaToken"
LWA_KINDS = ("error", "latency", "drop")
# LWA answers errors as {"error", "error_description"}; these two codes are the retryable ones.
LWA_SERVER_ERROR = ("server_error", "The authorization server encountered an unexpected error.")
LWA_UNAVAILABLE = ("temporarily_unavailable", "The authorization server is temporarily unavailable.")


def lwa_error_for(status: int) -> tuple[str, str]:
    return LWA_SERVER_ERROR if status == 500 else LWA_UNAVAILABLE


@dataclass
class Rule:
    kind: str
    operation: str = "*"
    count: int | None = None
    probability: float = 1.0
    status: int = 500
    seconds: float = 0.0
    duration: float | None = None
    fired: int = 0
    set_at: float = 0.0

    def expired(self, now: float) -> bool:
        return self.duration is not None and now - self.set_at >= self.duration

    @classmethod
    def parse(cls, data: dict[str, Any]) -> Rule:
        if not isinstance(data, dict):
            raise ValueError("each fault rule must be an object")
        kind = data.get("kind")
        if kind not in KINDS:
            raise ValueError(f"unknown fault kind {kind!r}; one of {sorted(KINDS)}")
        unknown = set(data) - {"kind", "operation", "count", "probability", "status", "seconds", "duration"}
        if unknown:
            raise ValueError(f"unknown fault rule fields {sorted(unknown)}")
        rule = cls(
            kind=kind,
            operation=str(data.get("operation", "*")),
            count=None if data.get("count") is None else int(data["count"]),
            probability=float(data.get("probability", 1.0)),
            status=int(data.get("status", 500)),
            seconds=float(data.get("seconds", 0.0)),
            duration=None if data.get("duration") is None else float(data["duration"]),
        )
        if not 0.0 <= rule.probability <= 1.0:
            raise ValueError("probability must be between 0 and 1")
        if kind == "error" and not (rule.status in CLIENT_ERRORS or 500 <= rule.status <= 599):
            raise ValueError(f"an error fault's status must be 5xx or one of {sorted(CLIENT_ERRORS)}")
        if rule.count is not None and rule.count < 0:
            raise ValueError("count must be >= 0")
        if rule.duration is not None and rule.duration <= 0:
            raise ValueError("duration must be > 0 seconds")
        if rule.operation == LWA_OPERATION:
            if kind not in LWA_KINDS:
                raise ValueError(f"the token endpoint ({LWA_OPERATION}) takes only {list(LWA_KINDS)} faults")
            if kind == "error" and rule.status < 500:
                raise ValueError(
                    f"an {LWA_OPERATION} error fault's status must be 5xx (revoke a seller for invalid_grant)"
                )
        return rule

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "kind": self.kind,
            "operation": self.operation,
            "probability": self.probability,
        }
        if self.count is not None:
            out["count"] = self.count
            out["remaining"] = max(0, self.count - self.fired)
        if self.kind == "error":
            out["status"] = self.status
        if self.kind in ("latency", "token_expiry", "late_answer"):
            out["seconds"] = self.seconds
        if self.duration is not None:
            out["duration"] = self.duration
        out["fired"] = self.fired
        return out


@dataclass
class Faults:
    seed: int = 0
    rules: list[Rule] = field(default_factory=list)
    clock: Callable[[], float] = field(default=time.monotonic, repr=False)

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._rng = random.Random(self.seed)

    def configure(self, rules: list[dict[str, Any]], seed: int | None = None) -> None:
        parsed = [Rule.parse(r) for r in rules]
        now = self.clock()
        for rule in parsed:
            rule.set_at = now
        with self._lock:
            self.rules = parsed
            if seed is not None:
                self.seed = seed
            self._rng = random.Random(self.seed)

    def clear(self) -> None:
        self.configure([])

    def snapshot(self) -> dict[str, Any]:
        now = self.clock()
        with self._lock:
            rules = []
            for rule in self.rules:
                out = rule.to_dict()
                if rule.duration is not None:
                    out["remaining_seconds"] = round(max(0.0, rule.set_at + rule.duration - now), 3)
                rules.append(out)
            return {"seed": self.seed, "rules": rules}

    def _fires(self, rule: Rule) -> bool:
        if rule.count is not None and rule.fired >= rule.count:
            return False
        if rule.expired(self.clock()):
            return False
        if rule.probability < 1.0 and self._rng.random() >= rule.probability:
            return False
        rule.fired += 1
        return True

    def draw(self, kind: str, operation: str = "*") -> Rule | None:
        """The first rule of ``kind`` matching ``operation`` that fires now (consumes one count).

        ``"*"`` rules match every SP-API operation but not the token endpoint: a 429 storm or a 5xx
        burst on the API must not also become an LWA outage unless a test asks for one.
        """
        with self._lock:
            for rule in self.rules:
                matches = rule.operation == operation or (
                    rule.operation == "*" and operation != LWA_OPERATION
                )
                if rule.kind == kind and matches and self._fires(rule):
                    return rule
        return None

    def has(self, kind: str) -> bool:
        """Whether any rule of ``kind`` is configured (used up or not, but within its duration):
        stuck feeds wait on this."""
        now = self.clock()
        with self._lock:
            return any(rule.kind == kind and not rule.expired(now) for rule in self.rules)

    def active(self, kind: str) -> Rule | None:
        """A rule of ``kind`` that is in force (not used up, not expired), without consuming it."""
        now = self.clock()
        with self._lock:
            for rule in self.rules:
                if (
                    rule.kind == kind
                    and (rule.count is None or rule.fired < rule.count)
                    and not rule.expired(now)
                ):
                    return rule
        return None
