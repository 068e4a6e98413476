"""Write the chart rendered with the default, HA and namespaced values to a folder, one YAML
file each, for scanners that read manifests (checkov in `.ci/run`).

    python -m tests.deploy.write_rendered OUT_DIR
"""

from __future__ import annotations

import sys
from pathlib import Path

import yaml

from tests.deploy.chart import ha_values, render

VARIANTS = {
    "default": None,
    "ha": {**ha_values(), "image": {**ha_values().get("image", {}), "digest": "sha256:" + "0" * 64}},
    "namespaced": {"rbac": {"namespaced": True}, "managedNamespaces": ["shop", "payments"]},
}


def main(argv: list[str]) -> int:
    out = Path(argv[0]) if argv else Path("build/rendered-chart")
    out.mkdir(parents=True, exist_ok=True)
    for name, values in VARIANTS.items():
        (out / f"{name}.yaml").write_text(yaml.safe_dump_all(render(values), sort_keys=False), encoding="utf-8")
    print(f"rendered {len(VARIANTS)} variants to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
