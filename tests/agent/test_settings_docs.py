"""docs/configuration.md is generated from the settings' field docstrings and must not drift."""

from __future__ import annotations

from pydantic import BaseModel

from agent.docgen import CONFIGURATION_DOC, render_configuration
from agent.settings import Settings, section_model


def _undocumented(model: type[BaseModel], path: str = "") -> list[str]:
    missing = []
    for name, info in model.model_fields.items():
        if not (info.description or "").strip():
            missing.append(f"{path}{name}")
        nested = section_model(info.annotation)
        if nested is not None:
            missing.extend(_undocumented(nested, f"{path}{name}."))
    return missing


def test_every_settings_field_has_a_docstring() -> None:
    assert _undocumented(Settings) == []


def test_configuration_doc_is_up_to_date() -> None:
    assert CONFIGURATION_DOC.read_text(encoding="utf-8") == render_configuration(), (
        "docs/configuration.md is stale: run `make docs`"
    )


def test_configuration_doc_lists_variables_and_hides_secret_defaults() -> None:
    text = render_configuration()
    assert "`SCUTUM_DATABASE__URL`" in text
    assert "## `planner.llm`" in text
    assert "string (*secret*)" in text
