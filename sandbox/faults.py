"""Fault injection, deterministic for a given seed and call order.

Rules are set with ``POST /_sandbox/faults`` (``{"seed": 7, "rules": [...]}``, replacing the current
set), from ``Settings.faults``, or cleared with ``DELETE /_sandbox/faults``. A rule::

    {"kind": "throttle", "operation": "getListingsItem", "count": 3}     # the next 3 calls get 429
    {"kind": "throttle", "operation": "*", "probability": 0.2}           # 20 % of all SP-API calls
    {"kind": "error", "status": 503, "operation": "createFeed", "count": 1}
    {"kind": "error", "status": 400, "operation": "patchListingsItem", "count": 1}  # InvalidInput
    {"kind": "latency", "seconds": 0.5, "operation": "*"}                # added before answering
    {"kind": "drop", "operation": "getFeed", "count": 1}                 # close without an answer
    {"kind": "token_expiry", "seconds": 2}      # access tokens die 2 s after issue (expires_in still says 3600)
    {"kind": "feed_fatal", "count": 1}          # the next feed ends FATAL with an error report
    {"kind": "feed_cancelled", "count": 1}      # the next feed ends CANCELLED (no report)
    {"kind": "feed_stuck", "count": 1}          # the next feed stays IN_PROGRESS until the rule is cleared
    {"kind": "report_unknown_message_ids", "count": 1}  # the next report names messageIds not in the feed

``operation`` (default ``"*"``) is an SP-API operationId; ``count`` limits how many times a rule fires
(absent: unlimited); ``probability`` (default 1) draws from one ``random.Random(seed)``.
"""

from __future__ import annotations

import random
import threading
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
}
CALL_KINDS = ("latency", "drop", "error", "throttle")
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


@dataclass
class Rule:
    kind: str
    operation: str = "*"
    count: int | None = None
    probability: float = 1.0
    status: int = 500
    seconds: float = 0.0
    fired: int = 0

    @classmethod
    def parse(cls, data: dict[str, Any]) -> Rule:
        if not isinstance(data, dict):
            raise ValueError("each fault rule must be an object")
        kind = data.get("kind")
        if kind not in KINDS:
            raise ValueError(f"unknown fault kind {kind!r}; one of {sorted(KINDS)}")
        unknown = set(data) - {"kind", "operation", "count", "probability", "status", "seconds"}
        if unknown:
            raise ValueError(f"unknown fault rule fields {sorted(unknown)}")
        rule = cls(
            kind=kind,
            operation=str(data.get("operation", "*")),
            count=None if data.get("count") is None else int(data["count"]),
            probability=float(data.get("probability", 1.0)),
            status=int(data.get("status", 500)),
            seconds=float(data.get("seconds", 0.0)),
        )
        if not 0.0 <= rule.probability <= 1.0:
            raise ValueError("probability must be between 0 and 1")
        if kind == "error" and not (rule.status in CLIENT_ERRORS or 500 <= rule.status <= 599):
            raise ValueError(f"an error fault's status must be 5xx or one of {sorted(CLIENT_ERRORS)}")
        if rule.count is not None and rule.count < 0:
            raise ValueError("count must be >= 0")
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
        if self.kind in ("latency", "token_expiry"):
            out["seconds"] = self.seconds
        out["fired"] = self.fired
        return out


@dataclass
class Faults:
    seed: int = 0
    rules: list[Rule] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._rng = random.Random(self.seed)

    def configure(self, rules: list[dict[str, Any]], seed: int | None = None) -> None:
        parsed = [Rule.parse(r) for r in rules]
        with self._lock:
            self.rules = parsed
            if seed is not None:
                self.seed = seed
            self._rng = random.Random(self.seed)

    def clear(self) -> None:
        self.configure([])

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {"seed": self.seed, "rules": [r.to_dict() for r in self.rules]}

    def _fires(self, rule: Rule) -> bool:
        if rule.count is not None and rule.fired >= rule.count:
            return False
        if rule.probability < 1.0 and self._rng.random() >= rule.probability:
            return False
        rule.fired += 1
        return True

    def draw(self, kind: str, operation: str = "*") -> Rule | None:
        """The first rule of ``kind`` matching ``operation`` that fires now (consumes one count)."""
        with self._lock:
            for rule in self.rules:
                if rule.kind == kind and rule.operation in ("*", operation) and self._fires(rule):
                    return rule
        return None

    def has(self, kind: str) -> bool:
        """Whether any rule of ``kind`` is configured (used up or not): stuck feeds wait on this."""
        with self._lock:
            return any(rule.kind == kind for rule in self.rules)

    def active(self, kind: str) -> Rule | None:
        """A rule of ``kind`` that is in force (not used up), without consuming it."""
        with self._lock:
            for rule in self.rules:
                if rule.kind == kind and (rule.count is None or rule.fired < rule.count):
                    return rule
        return None
