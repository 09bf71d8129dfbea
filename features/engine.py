"""Where the heavy commands run: this process, or a Dask cluster (an existing one, or a
`LocalCluster` started for the command). `leadscore features build` and `leadscore train` take
the same setting."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel, ConfigDict, Field

if TYPE_CHECKING:
    from distributed import Client


class EngineConfig(BaseModel):
    """The engine of a command; logged with the run like every other setting."""

    model_config = ConfigDict(extra="forbid")

    engine: Literal["local", "dask"] = Field(
        "local",
        description="local: this process (numba threads). dask: a Dask cluster; each lead's "
        "events are kept on one worker (partitions by a hash of the lead id).",
    )
    scheduler: str | None = Field(
        None,
        description="Address of an existing Dask scheduler (e.g. tcp://10.0.0.5:8786); "
        "default: a LocalCluster of `workers` processes on this machine.",
    )
    workers: int = Field(2, ge=1, description="Worker processes of the default LocalCluster.")
    leads_per_partition: int = Field(
        50_000,
        ge=1,
        description="Leads per partition of the Dask build: a worker holds one partition's "
        "events at a time, so this bounds its memory.",
    )


class EngineError(RuntimeError):
    """The Dask cluster could not be reached or started."""


@contextmanager
def dask_client(config: EngineConfig) -> Iterator[Client]:
    """A client of the configured scheduler, or of a LocalCluster (worker processes, one
    thread each: the feature kernel and LightGBM bring their own threads) closed afterwards."""
    from distributed import Client, LocalCluster

    if config.scheduler is not None:
        try:
            client = Client(config.scheduler, timeout="10s")
        except OSError as exc:
            raise EngineError(
                f"cannot reach the Dask scheduler at {config.scheduler} ({exc}); start it "
                "(`dask scheduler`) or leave --scheduler out to use a local cluster"
            ) from None
        with client:
            yield client
        return
    cluster = LocalCluster(
        n_workers=config.workers,
        threads_per_worker=1,
        processes=True,
        dashboard_address=None,
        # Progress is shown by the command; the cluster's own notices (shuffles starting
        # and ending) are not for the user.
        silence_logs=logging.ERROR,
    )
    with cluster, Client(cluster) as client:
        yield client
