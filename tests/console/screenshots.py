"""`make screenshots`: each console page in headless chromium, on a demo-like world, written as
PNG files under docs/images/ (docs/console.md and the README show them).

Run: python -m tests.console.screenshots docs/images
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver

from approvals.model import VoteChannel, VoteDecision
from tests.console.browser import headless_chromium, send_identity
from tests.console.world import ALLOWED, IDENTITY_HEADER, ConsoleWorld, console_world

WIDTH = 1280


def _shoot(driver: WebDriver, url: str, path: Path) -> None:
    driver.set_window_size(WIDTH, 600)  # scrollHeight is at least the window's height
    driver.get(url)
    height = int(driver.execute_script("return document.documentElement.scrollHeight"))
    driver.set_window_size(WIDTH, min(max(height + 40, 600), 4000))
    driver.get(url)
    driver.save_screenshot(str(path))
    print(f"wrote {path}")


def _stage(world: ConsoleWorld) -> str:
    """An approved and executed rollback, a pending request, a hostile alert; returns the first incident."""
    first = world.incident_needing_approval()
    world.agent.approvals.vote(
        str(first.approval_id),
        ALLOWED,
        VoteDecision.APPROVE,
        channel=VoteChannel.CONSOLE,
        now=world.agent.clock(),
    )
    world.agent.executor.wait(timeout=120)
    for _ in range(10):
        world.tick(30.0)
        world.agent.poll_once()
    world.incident_needing_approval("memory_limit_too_low", namespace="shop", deployment="catalog")
    world.hostile_alert()
    return first.evaluation.incident.id


def main(out: Path) -> None:
    """Stage a world and write one screenshot per page."""
    out.mkdir(parents=True, exist_ok=True)
    with console_world(Path(tempfile.mkdtemp(prefix="scutum-shots-"))) as world, headless_chromium() as driver:
        incident_id = _stage(world)
        send_identity(driver, {IDENTITY_HEADER: ALLOWED})
        driver.get(world.url + "/evidence")
        driver.find_element(By.ID, "verify").click()  # so the page shows the chain verified
        pages = {
            "console-incidents.png": "/",
            "console-incident.png": f"/incidents/{incident_id}",
            "console-approvals.png": "/approvals",
            "console-evidence.png": "/evidence",
            "console-reports.png": "/reports",
        }
        for name, path in pages.items():
            _shoot(driver, world.url + path, out / name)


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "docs/images"))
