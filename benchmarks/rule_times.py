"""Job-seconds per rule of a finished Snakemake run, read from its log (the `make demo` output
or `.snakemake/log/*.snakemake.log`): jobs, total and mean seconds from each job's start to its
"Finished jobid" line, and the run's wall time. Snakemake stamps lines to the second, so a
rule's mean is good to about a second. Several logs are printed side by side, e.g. before and
after a change:

    .venv/bin/python benchmarks/rule_times.py before.log after.log
"""

from __future__ import annotations

import argparse
import re
from collections import defaultdict
from datetime import datetime
from pathlib import Path

STAMP = re.compile(r"^\[(\w{3} \w{3} +\d+ \d\d:\d\d:\d\d \d{4})\]$")
START = re.compile(r"^(?:local)?rule (\w+):$")
JOBID = re.compile(r"^\s+jobid: (\d+)$")
FINISHED = re.compile(r"^Finished jobid: (\d+) \(Rule: (\w+)\)$")


def rule_seconds(log: Path) -> tuple[dict[str, list[float]], float]:
    """Seconds of each finished job, by rule, and the wall time from first to last stamp."""
    stamp = first = None
    started: dict[str, datetime] = {}
    pending_rule = None
    seconds: dict[str, list[float]] = defaultdict(list)
    for line in log.read_text().splitlines():
        if match := STAMP.match(line):
            stamp = datetime.strptime(match[1], "%a %b %d %H:%M:%S %Y")
            first = first or stamp
        elif match := START.match(line):
            pending_rule = match[1]
        elif (match := JOBID.match(line)) and pending_rule:
            started[match[1]] = stamp
            pending_rule = None
        elif match := FINISHED.match(line):
            if match[1] in started:
                seconds[match[2]].append((stamp - started.pop(match[1])).total_seconds())
    wall = (stamp - first).total_seconds() if first else 0.0
    return dict(seconds), wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("logs", nargs="+", type=Path)
    args = parser.parse_args()
    runs = [rule_seconds(log) for log in args.logs]
    rules = sorted({rule for seconds, _ in runs for rule in seconds})
    heads = " | ".join(f"{log.name}: jobs, job-s, mean s" for log in args.logs)
    print(f"| rule | {heads} |\n|---|" + "---:|" * len(args.logs))
    for rule in sorted(rules, key=lambda r: -sum(runs[0][0].get(r, [0]))):
        cells = []
        for seconds, _ in runs:
            times = seconds.get(rule, [])
            mean = sum(times) / len(times) if times else 0
            cells.append(f"{len(times)}, {sum(times):,.0f}, {mean:.1f}")
        print(f"| {rule} | " + " | ".join(cells) + " |")
    totals = [f"{sum(map(sum, s.values())):,.0f} job-s, wall {wall:,.0f} s" for s, wall in runs]
    print("| all | " + " | ".join(totals) + " |")


if __name__ == "__main__":
    main()
