"""Mapping files (and the content policy) read as YAML with the line of every key, so that every
problem names the file, line and key (:class:`MappingProblem`, :class:`MappingError`).
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import (
    BaseModel,
    ValidationError,
)

from listings_pipeline.catalog.columns import ColumnSpec
from listings_pipeline.catalog.mapping_model import (
    AttributeMapping,
    CrossFieldCheck,
    MarketplaceSettings,
    ProductTypeMapping,
)
from listings_pipeline.catalog.specs import KINDS, TRANSFORMS

__all__ = [
    "MappingError",
    "MappingProblem",
    "Positions",
    "key_text",
    "load_yaml_model",
    "read_yaml",
    "validation_problems",
]


@dataclass(frozen=True)
class MappingProblem:
    """One problem in a mapping file, where it is, and what is wrong."""

    file: str
    line: int | None
    key: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        return f"{where}: {self.key or '<document>'}: {self.message}"


class MappingError(ValueError):
    """A mapping file is invalid. ``problems`` lists every problem found, each with file and line."""

    def __init__(self, problems: Sequence[MappingProblem], *, what: str = "catalog mapping") -> None:
        self.problems = list(problems)
        count = len(self.problems)
        head = f"{count} problem{'s' if count != 1 else ''} in {what}"
        files = sorted({p.file for p in self.problems})
        super().__init__(f"{head} {', '.join(files)}:\n" + "\n".join(f"  {p}" for p in self.problems))


# --- YAML with positions -----------------------------------------------------------------------------


class _Loader(yaml.SafeLoader):
    """SafeLoader with YAML 1.2 booleans: only true/false. ``Y``, ``N``, ``NO``, ``on`` stay text,
    because they are catalog codes (a size, a country, a yes/no column's tokens)."""


_Loader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:bool"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)


def key_text(path: Sequence[Any]) -> str:
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out


class Positions:
    """Line of every key and list item of one YAML document, by path."""

    def __init__(self, loader: _Loader, root: yaml.Node) -> None:
        self.lines: dict[tuple[Any, ...], int] = {(): root.start_mark.line + 1}
        self._walk(loader, root, ())

    def _walk(self, loader: _Loader, node: yaml.Node, path: tuple[Any, ...]) -> None:
        if isinstance(node, yaml.MappingNode):
            for key_node, value_node in node.value:
                try:
                    key = loader.construct_object(key_node, deep=True)
                except yaml.YAMLError:
                    continue
                if not isinstance(key, str | int | float | bool):
                    continue
                self.lines.setdefault((*path, key), key_node.start_mark.line + 1)
                self._walk(loader, value_node, (*path, key))
        elif isinstance(node, yaml.SequenceNode):
            for index, item in enumerate(node.value):
                self.lines[(*path, index)] = item.start_mark.line + 1
                self._walk(loader, item, (*path, index))

    def locate(self, loc: Sequence[Any]) -> tuple[int | None, tuple[Any, ...]]:
        """The line and the matched path of a pydantic ``loc`` (tags that are not keys are skipped)."""
        path: tuple[Any, ...] = ()
        for part in loc:
            if (*path, part) in self.lines:
                path = (*path, part)
        return self.lines.get(path), path


def _duplicate_keys(node: yaml.Node, path: tuple[Any, ...], out: list[tuple[int, str, str]]) -> None:
    if isinstance(node, yaml.MappingNode):
        first: dict[str, int] = {}
        for key_node, value_node in node.value:
            if isinstance(key_node, yaml.ScalarNode) and key_node.tag != "tag:yaml.org,2002:merge":
                line = key_node.start_mark.line + 1
                if key_node.value in first:
                    out.append(
                        (
                            line,
                            key_text((*path, key_node.value)),
                            f"duplicate key '{key_node.value}' (first given on line {first[key_node.value]})",
                        )
                    )
                first.setdefault(key_node.value, line)
                _duplicate_keys(value_node, (*path, key_node.value), out)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            _duplicate_keys(item, (*path, index), out)


def _all_field_names() -> set[str]:
    names: set[str] = set()
    models: list[type[BaseModel]] = [
        ProductTypeMapping,
        MarketplaceSettings,
        ColumnSpec,
        AttributeMapping,
        CrossFieldCheck,
        *KINDS,
    ]
    for model in models:
        for name, info in model.model_fields.items():
            names.add(info.alias or name)
    return names | {kind.shorthand[0] for kind in KINDS if kind.shorthand}


def _describe(error: Mapping[str, Any]) -> str:
    kind = error["type"]
    ctx = error.get("ctx") or {}
    if kind == "union_tag_invalid" and ctx.get("discriminator") == "'transform'":
        return f"unknown transform {ctx.get('tag')!r}; expected one of: {', '.join(TRANSFORMS)}"
    if kind == "extra_forbidden":
        key = str(error["loc"][-1]) if error["loc"] else ""
        close = difflib.get_close_matches(key, sorted(_all_field_names()), n=1)
        return f"unknown key '{key}'" + (f" (did you mean '{close[0]}'?)" if close else "")
    if kind == "missing":
        return f"required key '{error['loc'][-1]}' is missing"
    message = str(error["msg"])
    if message.startswith("Value error, "):
        message = message[len("Value error, ") :]
    value = error.get("input")
    if kind not in ("model_type", "dict_type", "invalid_spec") and isinstance(
        value, str | int | float | bool
    ):
        message += f" (got {value!r})"
    elif kind in ("dict_type", "model_type", "list_type", "invalid_spec"):
        message += f" (got {type(value).__name__} {_short_repr(value)})"
    return message


def _short_repr(value: Any, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def read_yaml(text: str, source: str, *, what: str = "catalog mapping") -> tuple[Any, Positions]:
    """Parse one YAML document, with the line of every key; errors name the file and line.

    YAML 1.2 booleans (only true/false); duplicate keys are an error, not a silent override.
    """
    loader = _Loader(text)
    try:
        try:
            root = loader.get_single_node()
        except yaml.MarkedYAMLError as err:
            mark = err.problem_mark or err.context_mark
            line = mark.line + 1 if mark else None
            reason = " ".join(str(x) for x in (err.context, err.problem) if x)
            raise MappingError(
                [MappingProblem(source, line, "", f"not valid YAML: {reason}")], what=what
            ) from None
        if root is None:
            raise MappingError([MappingProblem(source, None, "", "the file is empty")], what=what)
        duplicates: list[tuple[int, str, str]] = []
        _duplicate_keys(root, (), duplicates)
        if duplicates:
            raise MappingError(
                [MappingProblem(source, line, key, msg) for line, key, msg in duplicates], what=what
            )
        try:
            data = loader.construct_document(root)
        except yaml.MarkedYAMLError as err:
            mark = err.problem_mark or err.context_mark
            problem = MappingProblem(
                source, mark.line + 1 if mark else None, "", f"not valid YAML: {err.problem}"
            )
            raise MappingError([problem], what=what) from None
        return data, Positions(loader, root)
    finally:
        loader.dispose()


def validation_problems(err: ValidationError, positions: Positions, source: str) -> list[MappingProblem]:
    """pydantic's errors as problems with the file, line and key of each."""
    problems = []
    for error in err.errors(include_url=False):
        loc = tuple(error["loc"])
        line, matched = positions.locate(loc)
        key_path = matched
        if error["type"] == "missing" and loc:
            key_path = (*matched, loc[-1])
        elif error["type"] == "union_tag_invalid":
            key_path = (*matched, "transform")
            line = positions.lines.get(key_path, line)
        problems.append(MappingProblem(source, line, key_text(key_path), _describe(error)))
    return problems


M = TypeVar("M", bound=BaseModel)


def load_yaml_model(path: str | Path, model: type[M], *, what: str) -> tuple[M, Positions]:
    """Read a YAML file into a pydantic model; every problem names the file, line and key."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise MappingError(
            [MappingProblem(str(path), None, "", "the file does not exist")], what=what
        ) from None
    except UnicodeDecodeError as err:
        raise MappingError(
            [MappingProblem(str(path), None, "", f"not UTF-8 text: {err}")], what=what
        ) from None
    data, positions = read_yaml(text, str(path), what=what)
    if not isinstance(data, dict):
        problem = MappingProblem(
            str(path), positions.lines[()], "", f"must be a YAML mapping, not {type(data).__name__}"
        )
        raise MappingError([problem], what=what)
    try:
        return model.model_validate(data), positions
    except ValidationError as err:
        raise MappingError(validation_problems(err, positions, str(path)), what=what) from None
