"""Synthetic data generation speed and memory. Prints figures; asserts nothing.

    python benchmarks/bench_synth.py                    # 1,000,000 leads into a temp dir
    python benchmarks/bench_synth.py --leads 100000 --points

Target (issue 2, 2 cores): 1,000,000 leads with ~50M events in under 5 minutes and 8 GB.
With --points it then scores the hand-weighted points of one row per lead (30 days after
creation) from the written events, the baseline's cost at this size.
"""

from __future__ import annotations

import argparse
import resource
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd

from features.journeys import Journeys, to_epoch_seconds
from features.points import PointsRules, score_points
from features.synth.generate import generate


def peak_rss_gb() -> float:
    """Peak resident memory of this process so far (Linux reports kilobytes)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--leads", type=int, default=1_000_000, help="Leads to generate.")
    parser.add_argument("--seed", type=int, default=42, help="Random seed.")
    parser.add_argument("--chunk-size", type=int, default=100_000, help="Leads per chunk.")
    parser.add_argument(
        "--out", type=Path, default=None, help="Keep the data here (default: a temp dir)."
    )
    parser.add_argument(
        "--points", action="store_true", help="Also time points scoring, one row per lead."
    )
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="bench_synth_") as tmp:
        out = args.out or Path(tmp)
        started = time.perf_counter()
        summary = generate(
            out, args.leads, args.seed, datetime(2024, 1, 1, tzinfo=UTC), 18, args.chunk_size
        )
        wall = time.perf_counter() - started
        size_mb = sum(p.stat().st_size for p in out.rglob("*") if p.is_file()) / 1024**2
        print(f"leads            {summary.n_leads:,}")
        print(
            f"events           {summary.n_events:,} ({summary.n_events / summary.n_leads:.1f}/lead)"
        )
        print(f"milestones       {summary.n_outcomes:,}")
        print(f"closed-won rate  {summary.closed_won_rate:.2%}")
        print(f"wall time        {wall:.1f} s")
        print(f"peak RSS         {peak_rss_gb():.2f} GB")
        print(f"on disk          {size_mb:,.0f} MB")
        if args.points:
            time_points(out)


def time_points(data: Path) -> None:
    leads = pd.read_parquet(data / "leads.parquet")
    started = time.perf_counter()
    journeys = Journeys.from_parquet(data / "events", leads.lead_id.to_numpy())
    loaded = time.perf_counter() - started
    rows = np.arange(len(leads))
    as_of = to_epoch_seconds(leads.created_at) + 30 * 86_400.0
    rules = PointsRules.default()
    score_points(rules, journeys, rows[:10], as_of[:10], leads.iloc[:10])  # compile / warm up
    started = time.perf_counter()
    score_points(rules, journeys, rows, as_of, leads)
    print(
        f"points: {len(rows):,} rows in {time.perf_counter() - started:.1f} s "
        f"(events loaded with DuckDB in {loaded:.1f} s); peak RSS {peak_rss_gb():.2f} GB"
    )


if __name__ == "__main__":
    main()
