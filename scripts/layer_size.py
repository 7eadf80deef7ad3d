#!/usr/bin/env python3
"""Print the size of the built layer (`make build` runs it after `sam build`): total and its largest packages.

python scripts/layer_size.py [.aws-sam/build/SharedLayer]
"""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path

LIMIT_MB = 250  # Lambda: a function and its layers, unzipped


def sizes(layer: Path) -> Counter:
    root = layer / "python"
    out: Counter = Counter()
    for path in root.rglob("*"):
        if path.is_file():
            top = path.relative_to(root).parts[0]
            out[top.split("-")[0] if top.endswith((".dist-info", ".pth")) else top] += path.stat().st_size
    return out


def main(argv: list[str]) -> int:
    layer = Path(argv[0] if argv else ".aws-sam/build/SharedLayer")
    if not (layer / "python").is_dir():
        print(f"no built layer at {layer}: run `make build`", file=sys.stderr)
        return 1
    found = sizes(layer)
    total = sum(found.values()) / 1e6
    largest = ", ".join(f"{name} {size / 1e6:.1f}" for name, size in found.most_common(5))
    print(
        f"layer {layer.name}: {total:.1f} MB unzipped (Lambda allows {LIMIT_MB} MB for a function and its layers); "
        f"largest (MB): {largest}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
