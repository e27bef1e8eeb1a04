"""python -m reports RUN_DIR [RUN_DIR ...] [--out REPORT_DIR]: writes report.md, report.json and PNGs."""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path

from reports.report import write_report
from reports.runs import ReportError, load_runs


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m reports",
        description="Compare run directories written by train.py with the published curves: learning "
        "curves, tables at 100k / 300k / 1M env steps, aggregate scores across tasks.",
    )
    parser.add_argument("run_dirs", nargs="+", type=Path, metavar="RUN_DIR", help="run directories written by train.py")
    parser.add_argument("--out", type=Path, default=Path("report"), help="where to write the report (default: report)")
    argv = sys.argv[1:] if argv is None else argv
    args = parser.parse_args(argv)
    try:
        groups = load_runs(args.run_dirs)
    except ReportError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    try:
        report = write_report(groups, args.out, f"python -m reports {shlex.join(argv)}")
    except OSError as error:
        print(f"error: cannot write the report to {args.out}: {error.strerror or error}", file=sys.stderr)
        return 2
    print(f"wrote {report}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
