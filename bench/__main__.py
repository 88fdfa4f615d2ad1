"""`python -m bench [--quick] [--only PART ...]`: run the benchmarks, print the table,
write bench/RESULTS.md after a full run."""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

from bench.common import BenchmarkError
from bench.run import PARTS, run_benchmarks


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer repetitions")
    parser.add_argument(
        "--only", action="append", choices=PARTS, help="run only this part (repeatable)"
    )
    parser.add_argument("--runs", type=int, help="repetitions per measurement (overrides)")
    parser.add_argument(
        "--output",
        type=Path,
        help="where to write the Markdown results (default bench/RESULTS.md after a "
        "full run; nothing is written with --only unless this is given)",
    )
    parser.add_argument(
        "--tree",
        type=Path,
        help="folder for the generated scan tree (default: a cached folder under /tmp)",
    )
    args = parser.parse_args(argv)
    if args.runs is not None and args.runs < 1:
        parser.error("--runs must be at least 1")
    with tempfile.TemporaryDirectory(prefix="vpbench-") as work:
        started = time.perf_counter()
        try:
            return run_benchmarks(
                parts=args.only or list(PARTS),
                quick=args.quick,
                runs=args.runs,
                output=args.output,
                tree=args.tree,
                work_dir=Path(work),
                started=started,
            )
        except BenchmarkError as exc:
            print(f"bench: error: {exc}", file=sys.stderr)
            return 1


if __name__ == "__main__":
    sys.exit(main())
