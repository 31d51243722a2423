"""One Table 2 report from reports of the same run measured seed by seed (side by side).

    python -m benchmarks.merge_seeds runs/t2-s0.json runs/t2-s1.json --out table2-mnist.json

The parts must agree on the data set, its size, the device, the commit, the overrides, the
default preset and the package versions, and no seed may appear twice; the rows, the
per-iteration records and the commands are joined in the parts' order. Prints the merged
table like :mod:`benchmarks.table2`.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from benchmarks.table2 import print_table

#: What every part must share for the merge to describe one run.
SHARED = ("dataset", "n", "device", "commit", "overrides", "default_preset", "packages")


def merge(parts: list[dict]) -> dict:
    """The reports ``parts`` (one or more seeds each) as one report.

    Raises
    ------
    ValueError
        No parts, parts that differ in one of :data:`SHARED`, a seed in two parts, or rows
        that differ between parts.
    """
    if not parts:
        raise ValueError("no reports to merge")
    first = parts[0]
    for part in parts[1:]:
        for key in SHARED:
            if part.get(key) != first.get(key):
                raise ValueError(
                    f"the reports differ in {key!r} ({first.get(key)!r} and {part.get(key)!r}): "
                    "merge only seeds of the same run"
                )
        if list(part["rows"]) != list(first["rows"]):
            raise ValueError(
                f"the reports have different rows: {list(first['rows'])} and {list(part['rows'])}"
            )
    seeds = [seed for part in parts for seed in part["seeds"]]
    if len(set(seeds)) != len(seeds):
        raise ValueError(f"a seed appears in two reports: {seeds}")
    threads = [part.get("torch_threads") for part in parts]
    iterations: dict[str, dict] = {}
    for part in parts:
        for row, per_seed in part.get("iterations", {}).items():
            iterations.setdefault(row, {}).update(per_seed)
    return {
        **first,
        "seeds": seeds,
        "torch_threads": threads[0] if len(set(threads)) == 1 else threads,
        "command": " | ".join(part["command"] for part in parts),
        "rows": {
            name: {key: [v for part in parts for v in part["rows"][name][key]] for key in row}
            for name, row in first["rows"].items()
        },
        "iterations": iterations,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.merge_seeds", description=__doc__)
    parser.add_argument("reports", nargs="+", type=Path, help="table2 JSON files")
    parser.add_argument("--out", type=Path, required=True, help="the merged JSON file")
    args = parser.parse_args(argv)
    try:
        merged = merge([json.loads(path.read_text()) for path in args.reports])
    except (OSError, ValueError, KeyError) as exc:
        parser.error(str(exc))
    print_table(merged)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(merged, indent=1) + "\n")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
