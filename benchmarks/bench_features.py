"""Training-set build and online feature speed. Prints figures; asserts nothing.

    python benchmarks/bench_features.py --data data/bench_1m     # synthesises it if missing

Targets (issue 2, 2 cores): 1,000,000 leads / ~50M events, 3 cut-offs per lead -> training set in
under 120 s wall and under 6 GB peak; online features for one lead with 200 events under 0.5 ms
median. Beside it, a bare DuckDB count-per-lead-per-event-type pass over the same events.
"""

from __future__ import annotations

import argparse
import resource
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import numpy as np

from features.contract.directory import read_contract_dir
from features.contract.schema import EVENT_TYPES
from features.pipeline import FeaturePipeline
from features.trainingset import TrainingSetConfig, build_training_set
from runtime.leads import LeadIn


def peak_rss_gb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2


def online_median_ms(pipeline: FeaturePipeline, n_events: int, repeats: int = 5000) -> float:
    rng = np.random.default_rng(0)
    now = datetime.now(UTC)
    events = [
        (now - timedelta(days=float(d)), EVENT_TYPES[k])
        for d, k in zip(rng.uniform(0, 365, n_events), rng.integers(0, 19, n_events), strict=True)
    ]
    lead = LeadIn(
        attributes={"job_title": "VP Sales"},
        events=[{"event_type": kind, "occurred_at": t} for t, kind in events],
    )
    as_of, created = np.array([now.timestamp()]), np.array([now.timestamp() - 400 * 86_400])
    pipeline.leads([lead], as_of, created)  # compile / warm up
    times = np.empty(repeats)
    for i in range(repeats):
        start = time.perf_counter()
        pipeline.leads([lead], as_of, created)
        times[i] = time.perf_counter() - start
    return float(np.median(times) * 1e3)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path("data/bench_1m"))
    parser.add_argument("--leads", type=int, default=1_000_000)
    args = parser.parse_args()

    if not (args.data / "leads.parquet").exists():
        from features.synth.generate import generate

        start = time.perf_counter()
        generate(args.data, n_leads=args.leads, seed=7, start=datetime(2024, 1, 1, tzinfo=UTC))
        print(f"synthesised {args.leads:,} leads in {time.perf_counter() - start:.1f}s")

    events_glob = str(args.data / "events" / "*.parquet")
    con = duckdb.connect()
    start = time.perf_counter()
    n_pairs, n_events = con.execute(
        "SELECT count(*), sum(n) FROM (SELECT lead_id, event_type, count(*) AS n "
        f"FROM read_parquet('{events_glob}') GROUP BY ALL)"
    ).fetchone()
    duck_s = time.perf_counter() - start
    con.close()
    print(f"events: {int(n_events):,}")
    print(f"bare DuckDB count per (lead, event type): {duck_s:.1f}s ({n_pairs:,} groups)")

    start = time.perf_counter()
    data = read_contract_dir(args.data)
    read_s = time.perf_counter() - start
    start = time.perf_counter()
    built = build_training_set(data.leads, data.journeys, data.outcomes, TrainingSetConfig())
    build_s = time.perf_counter() - start
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        built.write(Path(tmp) / "training_set.parquet")
    write_s = time.perf_counter() - start
    total = read_s + build_s + write_s
    print(
        f"training set: {built.report.rows:,} rows x {len(built.pipeline.feature_names)} features "
        f"(from {built.report.candidate_rows:,} candidate cut-offs)"
    )
    print(
        f"  read+encode {read_s:.1f}s, features+labels {build_s:.1f}s, write {write_s:.1f}s: "
        f"total {total:.1f}s wall (target < 120 s); ratio to bare DuckDB pass {total / duck_s:.1f}x"
    )
    print(f"  peak memory {peak_rss_gb():.2f} GB (target < 6 GB)")
    for n in (50, 200):
        ms = online_median_ms(built.pipeline, n)
        print(f"online features, one lead with {n} events: median {ms:.3f} ms (target < 0.5 ms)")


if __name__ == "__main__":
    main()
