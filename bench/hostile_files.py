"""Peak memory of reading hostile registry files (issue 15, point 6), each against a normal
registry of the same size on disk as the baseline.

Each file is read and mapped (``read_table`` + ``prepare``, what an import does before it
writes) in a child process; the figure is the child's peak resident memory over what it had
before reading. The hostile files are built here: one value in column XFD on 100k rows,
an XLSX whose shared strings unpack to 1.5 GB, a CSV of 5 MB of blank lines.

    python bench/hostile_files.py [--quick]   # --quick: a 300 MB bomb instead of 1.5 GB
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/hostile_registries.py

from tests.hostile_registries import (
    blank_lines_csv,
    bomb_xlsx,
    measure_read,
    normal_csv,
    normal_xlsx,
    wide_xlsx,
)

MB = 1 << 20
GOAL = 200 * MB


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a 300 MB bomb, not 1.5 GB")
    args = parser.parse_args()
    bomb_size = 300_000_000 if args.quick else 1_500_000_000
    failed = False
    with tempfile.TemporaryDirectory() as folder:
        tmp = Path(folder)
        hostile = [
            ("XFD on 100k rows (xlsx)", wide_xlsx(tmp / "wide.xlsx", rows=100_000)),
            (f"zip bomb, {bomb_size // 10**6} MB of XML", bomb_xlsx(tmp / "bomb.xlsx", bomb_size)),
            ("5 MB of blank lines (csv)", blank_lines_csv(tmp / "blank.csv", 5_000_000)),
        ]
        print(
            f"{'file':<32} {'on disk':>9} {'outcome':>8} {'peak +MB':>9} {'s':>6}   "
            f"{'baseline: normal registry of that size':<40}"
        )
        for name, path in hostile:
            size = path.stat().st_size
            started = time.monotonic()
            result = measure_read(path, timeout=600)
            seconds = time.monotonic() - started
            normal = tmp / f"normal{path.suffix}"
            if path.suffix == ".csv":
                normal_csv(normal, size)
            else:
                normal_xlsx(normal, size)
            base = measure_read(normal, timeout=600)
            failed |= result["growth"] > GOAL or result["outcome"] not in ("read", "refused")
            print(
                f"{name:<32} {size / MB:>7.1f}MB {result['outcome']:>8} "
                f"{result['growth'] / MB:>9.0f} {seconds:>6.1f}   "
                f"{normal.stat().st_size / MB:.1f} MB, {base.get('rows', 0)} rows: "
                f"+{base['growth'] / MB:.0f} MB ({base['outcome']})"
            )
            if result["message"]:
                print(f"{'':<32} {result['message'][:110]}")
        # The largest registries the limits let in (CALLAGENT_REGISTRY_MAX_ROWS rows).
        for path in (normal_csv(tmp / "max.csv", 1 << 30), normal_xlsx(tmp / "max.xlsx", 1 << 30)):
            result = measure_read(path, timeout=600)
            print(
                f"{'normal, 100k rows (' + path.suffix[1:] + ')':<32} "
                f"{path.stat().st_size / MB:>7.1f}MB {result['outcome']:>8} "
                f"{result['growth'] / MB:>9.0f}"
            )
    print(f"goal: no file grows the process by more than {GOAL // MB} MB: ", end="")
    print("FAILED" if failed else "met")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
