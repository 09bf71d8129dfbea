"""The scoring object: validated leads in, scores with reasons out. No HTTP in here.

It holds the served model behind one reference: a request reads it once and finishes on that
model, while a reload builds and warms the next model aside and swaps the reference (an atomic
assignment). A failed load leaves the old model serving and records why.

The per-lead path stays off pandas: the model's own pipeline makes one numpy row per lead,
one compiled pass gives raw scores and contributions, and answers are plain dicts and
dataclasses that orjson writes directly.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from features.contract.schema import EVENT_TYPES
from runtime.leads import LeadIn
from runtime.model import Reasons, ScoringModel
from runtime.source import ModelSource, load_resolved, resolve_source
from serving.schemas import FieldError, ModelInfo, ModelRef, ReloadState, TierInfo
from serving.settings import ServiceSettings

log = logging.getLogger(__name__)

# Enough leads for the behaviour kernel's parallel driver, so no request pays its first use.
_WARM_UP_BATCH = 512


class ModelUnavailable(RuntimeError):
    """No model is loaded; the message says why."""


class LeadRefused(ValueError):
    """The loaded model cannot score this lead as sent; `errors` say which field to fix."""

    def __init__(self, errors: list[FieldError]) -> None:
        super().__init__("; ".join(f"{'.'.join(map(str, e.loc))}: {e.msg}" for e in errors))
        self.errors = errors


@dataclass(frozen=True)
class Refused:
    """A lead of a batch that failed validation: reported in place, not scored."""

    lead_id: str | None
    errors: list[FieldError]


@dataclass(frozen=True)
class ServedModel:
    """A loaded, warmed-up model and what the answers say about it."""

    model: ScoringModel
    ref: ModelRef
    uri: str
    loaded_at: datetime
    ref_json: dict[str, str | None]
    attribute_sources: frozenset[str]

    @classmethod
    def build(cls, model: ScoringModel, source: ModelSource) -> ServedModel:
        ref = ModelRef(name=source.name, version=source.version, alias=source.alias)
        attributes = model.spec.pipeline.attributes
        return cls(
            model=model,
            ref=ref,
            uri=source.uri,
            loaded_at=datetime.now(UTC),
            ref_json=ref.model_dump(),
            attribute_sources=frozenset(attributes.sources),
        )


class Scorer:
    """Scores leads with the current model; loads and reloads it."""

    def __init__(self, settings: ServiceSettings) -> None:
        self.settings = settings
        self._served: ServedModel | None = None
        self._reload = ReloadState(state="idle")
        self._loading = threading.Lock()
        self._reasons = Reasons(
            settings.reasons_positive, settings.reasons_negative, settings.reasons_method
        )

    # -- the model -----------------------------------------------------------------------
    @property
    def served(self) -> ServedModel | None:
        return self._served

    @property
    def reload_state(self) -> ReloadState:
        return self._reload

    def readiness(self) -> tuple[str, str | None]:
        """ready; degraded (an older model serves: the last load failed); or not ready."""
        if self._served is None:
            return "not ready", self.unavailable_reason()
        if self._reload.state == "failed":
            return "degraded", self._reload.error
        return "ready", None

    def unavailable_reason(self) -> str:
        """Why there is no model (empty when there is one)."""
        if self._served is not None:
            return ""
        if self._reload.state == "loading":
            return f"loading the model from {self.settings.model_uri}"
        if self._reload.error:
            return self._reload.error
        return "no model loaded yet"

    def current(self) -> ServedModel:
        """The model to answer with; raises `ModelUnavailable` with the reason if none."""
        served = self._served
        if served is None:
            raise ModelUnavailable(f"no model to score with: {self.unavailable_reason()}")
        return served

    def load(self) -> ReloadState:
        """(Re)load the configured model now; on failure the old model keeps serving."""
        with self._loading:
            return self._load()

    def start_reload(self) -> threading.Thread | None:
        """Reload in a background thread; None if a load is already running."""
        if not self._loading.acquire(blocking=False):
            return None

        def run() -> None:
            try:
                self._load()
            finally:
                self._loading.release()

        thread = threading.Thread(target=run, name="model-reload", daemon=True)
        thread.start()
        return thread

    def _load(self) -> ReloadState:
        started = datetime.now(UTC)
        self._reload = ReloadState(state="loading", started_at=started)
        source = None
        try:
            source = resolve_source(self.settings.model_uri)
            self._reload = self._reload.model_copy(update={"version": source.version})
            served = ServedModel.build(*load_resolved(source))
            self._warm_up(served)
        except Exception as exc:  # any failure to load must leave the old model serving
            what = _describe(source) if source else self.settings.model_uri
            log.error("loading %s failed: %s", what, exc, exc_info=not isinstance(exc, ValueError))
            kept = " (the previous model keeps serving)" if self._served else ""
            self._reload = ReloadState(
                state="failed",
                version=source.version if source else None,
                started_at=started,
                finished_at=datetime.now(UTC),
                error=f"loading {what} failed: {exc}{kept}",
            )
        else:
            self._served = served  # the swap: requests already running keep the old one
            self._reload = ReloadState(
                state="loaded",
                version=served.ref.version,
                started_at=started,
                finished_at=datetime.now(UTC),
            )
            log.info("serving %s (%s)", served.ref, served.uri)
        return self._reload

    def _warm_up(self, served: ServedModel) -> None:
        """Score leads doing everything once: loads the compiled kernels (the serial and the
        parallel behaviour driver), flattens the trees, proves the model answers."""
        now = datetime.now(UTC)
        lead = LeadIn(
            created_at=now - timedelta(days=30),
            events=[
                {"event_type": kind, "occurred_at": now - timedelta(days=i + 1)}
                for i, kind in enumerate(EVENT_TYPES)
            ],
        )
        self._score_leads(served, [lead], None, now)
        self._score_leads(served, [lead] * _WARM_UP_BATCH, None, now)

    # -- scoring -------------------------------------------------------------------------
    def score(self, lead: LeadIn, now: datetime | None = None) -> dict[str, Any]:
        """The answer for one lead (fields of `ScoreResponse`)."""
        now = now or datetime.now(UTC)
        served = self.current()
        errors = _unscorable(served, lead)
        if errors:
            raise LeadRefused(errors)
        return self._score_leads(served, [lead], None, now)[0]

    def score_batch(
        self,
        leads: Sequence[LeadIn | Refused],
        as_of: datetime | None = None,
        now: datetime | None = None,
        explain: bool = True,
    ) -> dict[str, Any]:
        """Answers for a batch (fields of `BatchResponse`), refused leads failed in place;
        without `explain`, no reasons (rescoring whose answers nobody reads)."""
        served = self.current()
        now = now or datetime.now(UTC)
        checked: list[LeadIn | Refused] = []
        for lead in leads:
            errors = _unscorable(served, lead) if isinstance(lead, LeadIn) else []
            checked.append(Refused(lead.lead_id, errors) if errors else lead)
        leads = checked
        valid = [i for i, lead in enumerate(leads) if isinstance(lead, LeadIn)]
        answers = self._score_leads(served, [leads[i] for i in valid], as_of, now, explain)
        results: list[dict[str, Any] | None] = [None] * len(leads)
        for i, answer in zip(valid, answers, strict=True):
            answer["index"] = i
            answer["status"] = "scored"
            results[i] = answer
        for i, item in enumerate(leads):
            if isinstance(item, Refused):
                results[i] = {
                    "index": i,
                    "lead_id": item.lead_id,
                    "status": "failed",
                    "errors": [e.model_dump() for e in item.errors],
                }
        return {
            "model": served.ref_json,
            "scored": len(valid),
            "failed": len(leads) - len(valid),
            "results": results,
        }

    def _score_leads(
        self,
        served: ServedModel,
        leads: Sequence[LeadIn],
        default_as_of: datetime | None,
        now: datetime,
        explain: bool = True,
    ) -> list[dict[str, Any]]:
        if not leads:
            return []
        as_of = [lead.as_of or default_as_of or now for lead in leads]
        prediction = served.model.predict_leads(leads, as_of, self._reasons if explain else None)
        probability, scores, tiers = prediction.probability, prediction.score, prediction.tier
        # fit and engagement: ints, or None when the model has none (see runtime.model).
        subscores = prediction.subscore_columns()
        fit, engagement = subscores["fit"], subscores["engagement"]
        grade = subscores["grade"]
        reasons = prediction.reasons or [[] for _ in leads]
        features = prediction.inputs
        answers = []
        for r, lead in enumerate(leads):
            answers.append(
                {
                    "lead_id": lead.lead_id,
                    "probability": float(probability[r]),
                    "score": int(scores[r]),
                    "tier": str(tiers[r]),
                    "fit": None if fit[r] is None else int(fit[r]),
                    "engagement": None if engagement[r] is None else int(engagement[r]),
                    "grade": grade[r],
                    "reasons": reasons[r],
                    "model": served.ref_json,
                    "as_of": as_of[r],
                    "scored_at": now,
                    "warnings": _warnings(
                        served,
                        lead,
                        as_of[r],
                        int(features.late_events[r]),
                        features.unknown_types[r],
                    ),
                }
            )
        return answers

    # -- description ---------------------------------------------------------------------
    def info(self) -> ModelInfo:
        """What GET /v1/model shows."""
        served = self.current()
        spec = served.model.spec
        meta = spec.metadata
        thresholds = [*spec.tiers.thresholds, None]
        return ModelInfo(
            model=served.ref,
            uri=served.uri,
            loaded_at=served.loaded_at,
            target=meta.target,
            horizon_days=meta.horizon_days,
            trained_at=meta.trained_at,
            train_window=meta.train_window,
            calibration_window=meta.calibration_window,
            test_window=meta.test_window,
            tiers=[
                TierInfo(name=n, min_probability=t)
                for n, t in zip(spec.tiers.names, thresholds, strict=True)
            ],
            tier_policy=spec.tiers.policy,
            metrics=meta.metrics,
            features=list(served.model.feature_names),
            reasons_method=self.settings.reasons_method,
            last_reload=self._reload,
        )


def _describe(source: ModelSource) -> str:
    """'version 7 of lead-conversion (models:/lead-conversion/7)', or the URI alone."""
    if source.version is None:
        return source.uri
    return f"version {source.version} of {source.name} ({source.uri})"


def _unscorable(served: ServedModel, lead: LeadIn) -> list[FieldError]:
    """What this model needs that the lead lacks (the schema cannot know the model)."""
    if lead.created_at is None and served.model.spec.pipeline.use_behaviour:
        return [
            FieldError(
                loc=["created_at"],
                msg="Field required by this model: it reads the journey, and time since the "
                "lead was created is one of its features",
                type="missing",
            )
        ]
    return []


def _warnings(
    served: ServedModel, lead: LeadIn, as_of: datetime, late: int, unknown: list[str]
) -> list[str]:
    """What the service worked around in this lead's input."""
    out = []
    if unknown:
        n = len(unknown)
        out.append(
            f"{n} event{'s' if n > 1 else ''} of unknown type counted as 'other' "
            f"(e.g. {unknown[0]!r}); known types: see the event_type field of the API docs"
        )
    if late:
        out.append(f"{late} event{'s' if late > 1 else ''} at or after as_of ignored")
    if lead.created_at is not None and lead.created_at > as_of:
        out.append("created_at is after as_of")
    missing = served.attribute_sources.difference(lead.attributes)
    if missing:
        out.append(f"attributes the model uses are missing (scored as unknown): {sorted(missing)}")
    return out
