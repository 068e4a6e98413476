"""The Dockerfile cannot be built here (no Docker engine); these checks read it as text."""

from __future__ import annotations

import re

from tests.deploy.chart import ROOT

DOCKERFILE = (ROOT / "Dockerfile").read_text(encoding="utf-8")
INSTRUCTIONS = [line.strip() for line in DOCKERFILE.splitlines() if line.strip() and not line.lstrip().startswith("#")]


def _stages() -> list[str]:
    return [line for line in INSTRUCTIONS if line.upper().startswith("FROM ")]


def test_dockerfile_is_multi_stage_on_a_pinned_slim_base() -> None:
    assert len(_stages()) >= 2
    (base,) = re.findall(r"^ARG PYTHON_IMAGE=(\S+)$", DOCKERFILE, flags=re.MULTILINE)
    assert re.fullmatch(r"python:3\.11\.\d+-slim-bookworm(@sha256:[0-9a-f]{64})?", base)


def test_final_stage_runs_as_uid_10001_without_build_steps() -> None:
    final = INSTRUCTIONS[INSTRUCTIONS.index(_stages()[-1]) :]
    assert "USER 10001:10001" in final
    assert not any("pip install" in line or "apt-get" in line for line in final)
    assert any(line.startswith("COPY --from=builder") for line in final)


def test_entrypoint_is_the_scutum_cli_running_the_daemon() -> None:
    assert INSTRUCTIONS[-2:] == ['ENTRYPOINT ["scutum"]', 'CMD ["run"]']


def test_builder_installs_from_the_lock_file() -> None:
    assert re.search(r"pip install --no-deps --requirement constraints\.txt", DOCKERFILE)
