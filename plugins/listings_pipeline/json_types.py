"""The one name for JSON whose keys are not ours to fix.

Amazon's ``attributes``, a feed message, a request body on the wire, a JSON column: such a value is a
``JsonObject``, free-form on purpose. A record with keys of our own is a TypedDict instead, so mypy
checks every key read from it. This module imports nothing, so anything may import it.
"""

from __future__ import annotations

from typing import Any, TypeAlias

JsonObject: TypeAlias = dict[str, Any]
