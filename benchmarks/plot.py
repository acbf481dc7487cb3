#!/usr/bin/env python3
"""Plot benchmark reports: throughput and latency p50/p99 per second, one colour per report,
so that Parsnip and Parse Server run with the same settings land on one chart.

    benchmarks/plot.py parsnip.json parse.json -o side-by-side.png

Reads the JSON of rest_bench.py (one series per phase, laid end to end) and of
livequery_bench.py (deliveries). Needs matplotlib: the ``bench`` extra
(``pip install -e '.[bench]'``). rest_bench.py and livequery_bench.py call it for their own
report when it is importable.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # files only, no display
import matplotlib.pyplot as plt  # noqa: E402


def series_of(report: dict[str, Any]) -> tuple[str, list[tuple[str, list[dict[str, Any]]]]]:
    """(what is counted, [(segment name, per-second rows)]) of a report."""
    if report.get("benchmark") == "rest_bench":
        return "requests/s", [(r["phase"], r.get("per_second") or []) for r in report["results"]]
    deliveries = report.get("results", {}).get("deliveries") or {}
    return "deliveries/s", [("deliveries", deliveries.get("per_second") or [])]


def label_of(report: dict[str, Any], path: Path) -> str:
    settings = report.get("settings", {})
    if settings.get("label"):
        return str(settings["label"])
    version = (report.get("server") or {}).get("parseServerVersion")
    return f"{settings.get('url', path.stem)}" + (f" ({version})" if version else "")


def plot_reports(paths: list[Path], out: Path) -> Path:
    """Draw the reports at `paths` into one PNG at `out`; returns `out`."""
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(11, 7), sharex=True)
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    unit, titles = "", []
    for n, path in enumerate(paths):
        report = json.loads(Path(path).read_text())
        unit, segments = series_of(report)
        color, label = colors[n % len(colors)], label_of(report, Path(path))
        titles.append(f"{report.get('benchmark')} {report.get('settings', {}).get('scenario') or ''}".strip())
        offset = 0
        for i, (name, rows) in enumerate(segments):
            xs = [offset + r["second"] for r in rows]
            top.plot(xs, [r["count"] for r in rows], color=color, label=label if i == 0 else None)
            p99 = [(x, r["p99_ms"]) for x, r in zip(xs, rows) if r["p99_ms"] is not None]
            p50 = [(x, r["p50_ms"]) for x, r in zip(xs, rows) if r["p50_ms"] is not None]
            if p99:
                bottom.plot(*zip(*p99), color=color, label=f"{label} p99" if i == 0 else None)
            if p50:
                bottom.plot(*zip(*p50), color=color, linestyle="--", label=f"{label} p50" if i == 0 else None)
            if len(segments) > 1 and n == 0:
                top.annotate(name, (offset, 1), xycoords=("data", "axes fraction"), va="top", fontsize=8)
                if offset:
                    for ax in (top, bottom):
                        ax.axvline(offset - 0.5, color="grey", linewidth=0.5)
            offset += len(rows) + 1
    top.set_ylabel(unit)
    top.set_ylim(bottom=0)
    top.legend(fontsize=8)
    bottom.set_ylabel("latency ms (log)")
    bottom.set_yscale("log")
    bottom.set_xlabel("seconds since the measurement started")
    bottom.legend(fontsize=8)
    fig.suptitle(", ".join(sorted(set(titles))))
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=100)
    plt.close(fig)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("reports", nargs="+", type=Path, help="JSON reports of rest_bench.py or livequery_bench.py")
    parser.add_argument("-o", "--out", type=Path, default=None, help="PNG file (default: the first report's, .png)")
    args = parser.parse_args(argv)
    out = plot_reports(args.reports, args.out or args.reports[0].with_suffix(".png"))
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
