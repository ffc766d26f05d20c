"""JSON report documents checked against Amazon's report schema before they are read into a model.

Amazon publishes a JSON Schema for its JSON reports (``schemas/reports/`` of the SP-API models), and
the reports it sends have drifted from their own schemas before (its account health example does
not pass the schema it is published in). So a document is first validated against the schema
(draft 7, ``format`` checked, so a ``date`` is a real date), and only a valid one is read into the
pydantic model. Anything else raises :class:`InvalidReportDocument` with every reason, never a
partial result: the caller quarantines or refuses the whole document, and nothing is dropped
silently.

The caller passes the schema (a parsed JSON object): where the vendored models live is the
deployment's business, not the client's.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from jsonschema import Draft7Validator, FormatChecker
from pydantic import BaseModel, ValidationError

from .models.seller_performance import AccountHealthReport, SalesAndTrafficReport

if TYPE_CHECKING:
    from .models.reports import ReportContent

M = TypeVar("M", bound=BaseModel)
MAX_REASONS = 20
MAX_REASON_CHARS = 300


class InvalidReportDocument(ValueError):
    """A report document that is not JSON, fails its schema or its model. ``reasons`` lists each
    problem as ``<path>: <message>`` (at most :data:`MAX_REASONS`, each cut short); ``count`` is
    how many there were."""

    def __init__(self, report_type: str, reasons: list[str], count: int | None = None) -> None:
        self.report_type = report_type
        self.reasons = [r[:MAX_REASON_CHARS] for r in reasons[:MAX_REASONS]]
        self.count = len(reasons) if count is None else count
        more = f" (and {self.count - len(self.reasons)} more)" if self.count > len(self.reasons) else ""
        super().__init__(f"{report_type} document refused: " + "; ".join(self.reasons) + more)


def _path(parts: Iterable[object]) -> str:
    text = "/".join(str(p) for p in parts)
    return text or "(document)"


def schema_errors(document: object, schema: Mapping[str, Any]) -> list[str]:
    """Every way ``document`` fails ``schema``, in document order."""
    validator = Draft7Validator(schema, format_checker=FormatChecker())
    errors = sorted(validator.iter_errors(document), key=lambda e: [str(p) for p in e.absolute_path])
    return [f"{_path(e.absolute_path)}: {e.message}" for e in errors]


def load(data: bytes | str, schema: Mapping[str, Any], model: type[M], report_type: str) -> M:
    """``data`` (the downloaded document) as ``model``, once it passes ``schema``."""
    try:
        document = json.loads(data)
    except ValueError as err:
        raise InvalidReportDocument(report_type, [f"(document): not JSON ({err})"]) from None
    problems = schema_errors(document, schema)
    if problems:
        raise InvalidReportDocument(report_type, problems)
    try:
        return model.model_validate_json(data)
    except ValidationError as err:  # the model is meant never to be stricter than the schema
        reasons = [
            f"{_path(e['loc'])}: {e['msg']}" for e in err.errors(include_url=False, include_input=False)
        ]
        raise InvalidReportDocument(report_type, reasons) from None


def _text(content: ReportContent | bytes | str) -> bytes | str:
    if isinstance(content, bytes | str):
        return content
    try:
        return content.text()
    except (UnicodeDecodeError, ValueError) as err:
        raise InvalidReportDocument("report", [f"(document): cannot be decoded ({err})"]) from None


def load_account_health(
    content: ReportContent | bytes | str, schema: Mapping[str, Any]
) -> AccountHealthReport:
    """``GET_V2_SELLER_PERFORMANCE_REPORT`` against ``accountHealthReport-2020-11-18.json``."""
    return load(_text(content), schema, AccountHealthReport, "GET_V2_SELLER_PERFORMANCE_REPORT")


def load_sales_and_traffic(
    content: ReportContent | bytes | str, schema: Mapping[str, Any]
) -> SalesAndTrafficReport:
    """``GET_SALES_AND_TRAFFIC_REPORT`` against ``sellerSalesAndTrafficReport.json``."""
    return load(_text(content), schema, SalesAndTrafficReport, "GET_SALES_AND_TRAFFIC_REPORT")
