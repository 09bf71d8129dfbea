"""Training time and peak memory for a 1,000,000-row training set. Prints figures; asserts nothing.

    python benchmarks/bench_train.py --data data/bench_train     # synthesises it if missing

Target (issue 3, 2 cores): under 5 minutes and under 8 GB. The data (about 433,000 synthetic
leads, 3 cut-offs each, about 1M labelled rows) is prepared by the `leadscore` commands in
child processes, so the peak memory printed here is that of reading the training set and
training on it: split, fit with early stopping, refit, calibration, tiers, artifact round
trip and evaluation against the hand-weighted points and the oracle.
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

TRAINING_SET = "training_set.parquet"


def peak_rss_gb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2


def prepare(data: Path, leads: int) -> None:
    """Synthesise the leads and build the training set with the CLI, if not done before."""
    cli = [sys.executable, "-m", "leadscore"]
    if not (data / "leads.parquet").exists():
        subprocess.run(
            [*cli, "data", "synth", "--out", str(data), "--leads", str(leads)], check=True
        )
    if not (data / TRAINING_SET).exists():
        subprocess.run(
            [*cli, "features", "build", "--data", str(data), "--out", str(data / TRAINING_SET)],
            check=True,
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path("data/bench_train"))
    parser.add_argument("--leads", type=int, default=433_000, help="about 2.3 rows per lead")
    parser.add_argument("--no-baseline", action="store_true", help="skip points and oracle")
    args = parser.parse_args()
    prepare(args.data, args.leads)

    from features.contract.directory import read_contract_dir
    from features.points import PointsRules
    from features.trainingset import read_training_set
    from training.train import TrainConfig, train_model

    start = time.perf_counter()
    frame, pipeline = read_training_set(args.data / TRAINING_SET)
    contract = None if args.no_baseline else read_contract_dir(args.data)
    read_s = time.perf_counter() - start
    print(
        f"training set: {len(frame):,} rows x {len(pipeline.feature_names)} features, "
        f"{int(frame['label'].sum()):,} conversions; read in {read_s:.1f}s "
        f"({os.cpu_count()} cores)"
    )

    start = time.perf_counter()
    result = train_model(
        frame,
        pipeline,
        TrainConfig(),
        rules=None if contract is None else PointsRules.default(),
        journeys=None if contract is None else contract.journeys,
        leads=None if contract is None else contract.leads,
        oracle=None if contract is None else contract.oracle,
    )
    train_s = time.perf_counter() - start
    report = result.report
    s = report.split
    print(
        f"slices: train {s.train.rows:,} + early stopping {s.valid.rows:,}, calibration "
        f"{s.calibration.rows:,}, test {s.test.rows:,} rows; purged "
        f"{s.purged_train_rows + s.purged_calibration_rows:,}"
    )
    print(f"booster: {report.fit.best_iteration} trees, {report.fit.params['num_threads']} threads")
    print(f"train_model: {train_s:.1f}s wall (target < 300 s)")
    print(f"peak memory: {peak_rss_gb():.2f} GB (target < 8 GB)")
    print(report.headline())


if __name__ == "__main__":
    main()
