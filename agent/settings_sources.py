"""How settings data is gathered from a YAML file and `SCUTUM_*` variables, with each
value's source remembered so errors can name it. The process environment is read only in
agent/settings.py, which passes it in."""

from __future__ import annotations

import difflib
import json
from collections.abc import Mapping
from pathlib import Path
from types import UnionType
from typing import Any, Union, get_args, get_origin

import yaml
from pydantic import BaseModel, ValidationError

ENV_PREFIX = "SCUTUM_"
ENV_DELIMITER = "__"
CONFIG_FILE_VARIABLE = "SCUTUM_CONFIG"
"""Names a YAML settings file when no path is given; not a settings field itself."""


class SettingsError(Exception):
    """The settings could not be loaded; the message is meant for a person to read."""


MAX_SETTINGS_BYTES = 1024 * 1024
"""Largest settings file read; a bigger one is an error, not a memory spike."""


def read_yaml(path: Path) -> dict[str, Any]:
    """The settings file as a mapping; SettingsError (one line) when it is unreadable, too
    large, not UTF-8, malformed or nested too deep."""
    try:
        if path.stat().st_size > MAX_SETTINGS_BYTES:
            raise SettingsError(f"settings file {path} is larger than {MAX_SETTINGS_BYTES} bytes")
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise SettingsError(f"cannot read settings file {path}: {exc.strerror}") from None
    except UnicodeDecodeError as exc:
        raise SettingsError(f"settings file {path} is not UTF-8 (bad byte at offset {exc.start})") from None
    try:
        loaded = yaml.safe_load(text)
    except RecursionError:
        raise SettingsError(f"{path}: malformed YAML: nested too deep") from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark else str(path)
        raise SettingsError(f"{where}: malformed YAML: {exc.problem}") from None
    except yaml.YAMLError as exc:
        raise SettingsError(f"{path}: malformed YAML: {exc}") from None
    if loaded is None:
        return {}
    if not isinstance(loaded, dict):
        raise SettingsError(f"{path}: the top level must be a mapping of sections, not {type(loaded).__name__}")
    return loaded


def record_sources(data: Mapping[str, Any], loc: tuple[str, ...], source: str, out: dict[tuple[str, ...], str]) -> None:
    for key, value in data.items():
        out[(*loc, str(key))] = source
        if isinstance(value, Mapping):
            record_sources(value, (*loc, str(key)), source, out)


def env_data(
    environ: Mapping[str, str], sources: dict[tuple[str, ...], str], *, root: type[BaseModel]
) -> dict[str, Any]:
    """Nested settings data from the `SCUTUM_*` variables of `environ`, noting each value's source."""
    data: dict[str, Any] = {}
    for variable, raw in sorted(environ.items()):
        if not variable.upper().startswith(ENV_PREFIX) or variable.upper() == CONFIG_FILE_VARIABLE:
            continue
        loc = tuple(part.lower() for part in variable[len(ENV_PREFIX) :].split(ENV_DELIMITER))
        annotation = _resolve_field(loc, variable, root)
        value: Any = raw
        if _is_structured(annotation):
            try:
                value = json.loads(raw)
            except json.JSONDecodeError as exc:
                raise SettingsError(f"environment variable {variable}: expected JSON: {exc.msg}") from None
        node = data
        for part in loc[:-1]:
            node = node.setdefault(part, {})
        node[loc[-1]] = value
        sources[loc] = f"environment variable {variable}"
        if isinstance(value, Mapping):
            record_sources(value, loc, f"environment variable {variable}", sources)
    return data


def _resolve_field(loc: tuple[str, ...], variable: str, root: type[BaseModel]) -> Any:
    """The annotation a variable's path lands on; unknown paths raise with a suggestion."""
    model: type[BaseModel] = root
    annotation: Any = None
    for depth, part in enumerate(loc):
        fields = {(info.alias or name): info for name, info in model.model_fields.items()}
        if part not in fields:
            close = difflib.get_close_matches(variable.upper(), env_variable_names(root), n=1, cutoff=0.6)
            hint = f"; did you mean {close[0]}?" if close else ""
            raise SettingsError(f"unknown environment variable {variable}: no settings field {'.'.join(loc)}{hint}")
        annotation = fields[part].annotation
        nested = section_model(annotation)
        if nested is None:
            if get_origin(annotation) is dict and depth < len(loc) - 1:
                return str  # SCUTUM_X__LABELS__KEY sets one entry of a mapping
            if depth < len(loc) - 1:
                raise SettingsError(
                    f"unknown environment variable {variable}: {'.'.join(loc[: depth + 1])} has no fields"
                )
            return annotation
        model = nested
    return annotation


def env_variable_names(model: type[BaseModel], prefix: str = ENV_PREFIX) -> list[str]:
    """Every leaf `SCUTUM_*` variable name the settings understand."""
    names = []
    for name, info in model.model_fields.items():
        variable = prefix + (info.alias or name).upper()
        nested = section_model(info.annotation)
        names.extend(env_variable_names(nested, variable + ENV_DELIMITER) if nested else [variable])
    return names


def section_model(annotation: Any) -> type[BaseModel] | None:
    """The settings model a field holds directly or as an optional; not models inside containers."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    if get_origin(annotation) in (Union, UnionType):
        for arg in get_args(annotation):
            if isinstance(arg, type) and issubclass(arg, BaseModel):
                return arg
    return None


def _is_structured(annotation: Any) -> bool:
    if section_model(annotation) is not None:
        return True
    origins = {get_origin(annotation), *(get_origin(a) for a in get_args(annotation))}
    return bool(origins & {list, dict, tuple, set})


def deep_merge(base: dict[str, Any], override: Mapping[str, Any]) -> None:
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(base.get(key), dict):
            deep_merge(base[key], value)
        else:
            base[key] = value


def describe_errors(exc: ValidationError, sources: Mapping[tuple[str, ...], str], *, root: type[BaseModel]) -> str:
    """A readable message for a validation error: each field, where its value came from, what is wrong."""
    lines = []
    for error in exc.errors(include_url=False):
        loc = tuple(str(part) for part in error["loc"])
        source = next((sources[loc[:n]] for n in range(len(loc), 0, -1) if loc[:n] in sources), "defaults")
        message = error["msg"]
        if error["type"] == "extra_forbidden":
            message = "unknown key" + _suggest_key(loc, root)
        lines.append(f"{'.'.join(loc)} (from {source}): {message}")
    return "invalid settings:\n  " + "\n  ".join(lines)


def _suggest_key(loc: tuple[str, ...], root: type[BaseModel]) -> str:
    model: type[BaseModel] | None = root
    for part in loc[:-1]:
        info = model.model_fields.get(part) if model else None
        model = section_model(info.annotation) if info else None
    if model is None:
        return ""
    names = [info.alias or name for name, info in model.model_fields.items()]
    close = difflib.get_close_matches(loc[-1], names, n=1, cutoff=0.6)
    return f"; did you mean {close[0]!r}?" if close else f"; known keys: {', '.join(sorted(names))}"
