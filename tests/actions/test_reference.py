"""docs/actions.md is generated from the registry and must not drift."""

from __future__ import annotations

from actions.reference import DOC_PATH, render_reference
from actions.registry import REGISTRY


def test_docs_actions_md_matches_the_registry() -> None:
    assert DOC_PATH.read_text(encoding="utf-8") == render_reference(), (
        "docs/actions.md is out of date with the action registry; regenerate it with `make docs`"
    )


def test_reference_documents_every_action_its_params_and_the_checklist() -> None:
    text = render_reference()
    for name, action in REGISTRY.items():
        assert f"## `{name.value}`" in text
        for field in action.params_model.model_fields:
            assert f"| `{field}` |" in text
    assert "## Adding an action by pull request" in text
    assert "Regenerate the chart's RBAC" in text
