"""Promotion and rollback with registry aliases.

`@champion` moves to a candidate version only if the candidate beats the champion on the same
recent held-out rows: the candidate's own test slice, which nothing in its training touched.
Both models score those rows through `ScoringModel`; the higher ROC AUC wins, log loss breaks
a tie. The version a new champion replaced is kept in a version tag, so a rollback points
`@champion` back at it.
"""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pandas as pd
from mlflow import MlflowClient
from mlflow.entities.model_registry import ModelVersion
from mlflow.exceptions import MlflowException
from pydantic import BaseModel

from features.contract.directory import ContractData
from features.contract.schema import AS_OF, LABEL, LEAD_ID
from runtime.artifact import ArtifactError
from runtime.model import ScoringModel
from runtime.source import RegistrySettings, get_alias, load_model, tracking
from training.evaluate import Metrics, evaluate
from training.registry.tracking import (
    CHALLENGER,
    CHAMPION,
    MEASURED_PROBABILITY,
    PREVIOUS_CHAMPION_TAG,
    download_evaluation_rows,
)

# ROC AUC differences below this are ties (a test slice of a few thousand rows cannot
# resolve them); log loss decides those.
AUC_TIE = 0.001
PROMOTION_TAG = "promotion"


class PromotionError(RuntimeError):
    """Promotion could not compare the models or find the versions; says what to do."""


class Scored(BaseModel):
    """One model version measured on the comparison rows."""

    version: int
    metrics: Metrics


class PromotionResult(BaseModel):
    """What promotion found and did."""

    candidate: int
    champion_before: int | None
    champion_after: int | None
    promoted: bool
    forced: bool = False
    reason: str
    scores: list[Scored] = []
    notes: list[str] = []

    def summary(self) -> str:
        """Lines for a terminal: the figures of both models, then the decision."""
        lines = []
        if self.scores:
            rows, positives = self.scores[0].metrics.rows, self.scores[0].metrics.positives
            lines += [
                f"compared on the candidate's test slice: {rows:,} rows, {positives:,} conversions",
                f"{'version':>10} {'role':>10} {'ROC AUC':>9} {'log loss':>9} {'ECE':>8}",
            ]
            for s in self.scores:
                role = "candidate" if s.version == self.candidate else "champion"
                m = s.metrics
                lines.append(
                    f"{s.version:>10} {role:>10} {m.roc_auc:>9.4f} {m.log_loss:>9.4f} {m.ece:>8.4f}"
                )
        lines += [f"note: {n}" for n in self.notes]
        verdict = "PROMOTED" if self.promoted else "REFUSED"
        if self.forced and self.promoted:
            verdict += " (forced)"
        lines.append(f"{verdict}: {self.reason}")
        return "\n".join(lines)


def beats(candidate: Metrics, champion: Metrics) -> tuple[bool, str]:
    """Whether the candidate is better: higher ROC AUC, or a tie and lower log loss."""
    diff = candidate.roc_auc - champion.roc_auc
    if abs(diff) >= AUC_TIE:
        word = "higher" if diff > 0 else "lower"
        return diff > 0, (
            f"candidate ROC AUC {candidate.roc_auc:.4f} is {word} than the champion's "
            f"{champion.roc_auc:.4f}"
        )
    better = candidate.log_loss < champion.log_loss
    return better, (
        f"ROC AUC tied within {AUC_TIE} ({candidate.roc_auc:.4f} vs {champion.roc_auc:.4f}); "
        f"candidate log loss {candidate.log_loss:.4f} is "
        f"{'lower' if better else 'not lower'} than the champion's {champion.log_loss:.4f}"
    )


def probability_on_rows(
    model: ScoringModel, rows: pd.DataFrame, features_of: ScoringModel, data: ContractData | None
) -> np.ndarray:
    """`model`'s probability on evaluation rows whose features `features_of` computed.

    The stored features are reused when both models compute features the same way;
    otherwise `model`'s own pipeline recomputes them from the raw data.
    """
    if model.spec.pipeline == features_of.spec.pipeline:
        return model.predict_features(rows).probability
    if data is None:
        raise PromotionError(
            "the champion computes its features differently from the candidate (other "
            "attributes or category groupings), so it cannot be scored on the candidate's stored "
            "features: pass the raw data the candidate was trained on, "
            "`leadscore models promote --data DIR`, or promote with --force."
        )
    return model.predict_rows(data.leads, data.journeys, rows[[LEAD_ID, AS_OF]]).probability


def head_to_head(
    candidate: ScoringModel,
    champion: ScoringModel,
    rows: pd.DataFrame,
    data: ContractData | None = None,
) -> tuple[Metrics, Metrics, list[str]]:
    """Metrics of both models on the candidate's evaluation rows, and caveats."""
    y = rows[LABEL].to_numpy(dtype=np.int8)
    notes = []
    if MEASURED_PROBABILITY in rows:
        # A candidate refitted on every labelled row has seen these rows: it is judged by the
        # same procedure fitted before them, as its report is.
        ours = evaluate(rows[MEASURED_PROBABILITY].to_numpy(), y)
        notes.append(
            "the candidate was refitted on these rows too: its figures are those of its "
            "training procedure fitted before them."
        )
    else:
        ours = evaluate(probability_on_rows(candidate, rows, candidate, data), y)
    theirs = evaluate(probability_on_rows(champion, rows, candidate, data), y)
    first_row = rows[AS_OF].min()
    seen = [
        w[1]
        for w in (champion.spec.metadata.train_window, champion.spec.metadata.calibration_window)
        if w
    ]
    if seen and max(seen) >= first_row:
        notes.append(
            f"the champion was trained or calibrated on cut-offs up to {max(seen):%Y-%m-%d}, "
            f"after the first compared row ({first_row:%Y-%m-%d}): its figures are optimistic."
        )
    return ours, theirs, notes


def promote(
    settings: RegistrySettings,
    version: int | None = None,
    *,
    force: bool = False,
    data: ContractData | None = None,
) -> PromotionResult:
    """Point `@champion` at `version` (default: `@challenger`) if it beats the champion."""
    name = settings.model_name
    with tracking(settings) as client:
        candidate_v = _candidate(client, settings, version)
        candidate = int(candidate_v.version)
        # Whatever follows, even --force, the candidate must load: the service would refuse a
        # damaged artifact, and @champion must never point at one.
        candidate_model = load_model(settings.model_uri(candidate), settings)
        champion_v = get_alias(client, name, CHAMPION)
        if champion_v is None:
            _move_champion(client, name, candidate, None, "first model: no champion yet")
            return PromotionResult(
                candidate=candidate,
                champion_before=None,
                champion_after=candidate,
                promoted=True,
                reason=f"version {candidate} is the first champion of {name}",
            )
        before = int(champion_v.version)
        if before == candidate:
            return PromotionResult(
                candidate=candidate,
                champion_before=before,
                champion_after=before,
                promoted=False,
                reason=f"version {candidate} is already the champion",
            )
        scores, notes = [], []
        try:
            rows = _evaluation_rows(candidate_v, settings)
            ours, theirs, notes = head_to_head(
                candidate_model, _load_champion(settings, before), rows, data
            )
        except PromotionError as exc:
            if not force:
                raise
            win, reason = False, f"not compared: {exc}"
        else:
            scores = [
                Scored(version=candidate, metrics=ours),
                Scored(version=before, metrics=theirs),
            ]
            win, reason = beats(ours, theirs)
        promoted = win or force
        if promoted:
            why = reason if win else f"forced over version {before} ({reason})"
            _move_champion(client, name, candidate, before, why)
        else:
            client.set_model_version_tag(name, candidate, PROMOTION_TAG, f"refused: {reason}")
        return PromotionResult(
            candidate=candidate,
            champion_before=before,
            champion_after=candidate if promoted else before,
            promoted=promoted,
            forced=force and not win,
            reason=reason if win or not force else f"--force: {reason}",
            scores=scores,
            notes=notes,
        )


def _load_champion(settings: RegistrySettings, version: int) -> ScoringModel:
    """The champion to compare with; a damaged one cannot be compared (--force replaces it)."""
    try:
        return load_model(settings.model_uri(version), settings)
    except ArtifactError as exc:
        raise PromotionError(
            f"the champion, version {version}, cannot be loaded ({exc}): promote with --force "
            "to replace it"
        ) from exc


def _evaluation_rows(version: ModelVersion, settings: RegistrySettings) -> pd.DataFrame:
    try:
        return download_evaluation_rows(version.run_id, settings)
    except MlflowException as exc:
        raise PromotionError(
            f"version {version.version} has no test-slice rows logged with its run "
            f"({exc.message}): it was cross-validated on a flat export without dates (no rows "
            "were left untouched to compare on), or not logged by `leadscore train`. Compare "
            "the reports and promote it with --force."
        ) from exc


def rollback(settings: RegistrySettings) -> PromotionResult:
    """Point `@champion` back at the version the current champion replaced."""
    name = settings.model_name
    with tracking(settings) as client:
        champion_v = get_alias(client, name, CHAMPION)
        if champion_v is None:
            raise PromotionError(f"{name} has no @champion to roll back.")
        current = int(champion_v.version)
        previous = champion_v.tags.get(PREVIOUS_CHAMPION_TAG)
        if not previous:
            raise PromotionError(
                f"version {current} replaced no earlier champion; point @champion at a version "
                "of your choice with `leadscore models promote --version N --force`."
            )
        client.set_registered_model_alias(name, CHAMPION, previous)
        client.set_model_version_tag(
            name, current, PROMOTION_TAG, f"rolled back to version {previous} at {_now()}"
        )
    return PromotionResult(
        candidate=int(previous),
        champion_before=current,
        champion_after=int(previous),
        promoted=True,
        reason=f"rolled back from version {current} to version {previous}",
    )


def _candidate(
    client: MlflowClient, settings: RegistrySettings, version: int | None
) -> ModelVersion:
    """The given version, or the `@challenger`."""
    if version is not None:
        try:
            return client.get_model_version(settings.model_name, str(version))
        except MlflowException as exc:
            raise PromotionError(
                f"{settings.model_name} has no version {version} in {settings.tracking_uri} "
                "(see `leadscore models list`)."
            ) from exc
    challenger = get_alias(client, settings.model_name, CHALLENGER)
    if challenger is None:
        raise PromotionError(
            f"{settings.model_name} has no @challenger: give the version to promote with "
            "--version N (see `leadscore models list`)."
        )
    return challenger


def _move_champion(
    client: MlflowClient, name: str, version: int, previous: int | None, why: str
) -> None:
    """Set `@champion`, remember what it replaced, and drop a now-redundant `@challenger`."""
    client.set_registered_model_alias(name, CHAMPION, version)
    if previous is not None:
        client.set_model_version_tag(name, version, PREVIOUS_CHAMPION_TAG, str(previous))
    client.set_model_version_tag(name, version, PROMOTION_TAG, f"promoted at {_now()}: {why}")
    challenger = get_alias(client, name, CHALLENGER)
    if challenger is not None and int(challenger.version) == version:
        client.delete_registered_model_alias(name, CHALLENGER)


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
