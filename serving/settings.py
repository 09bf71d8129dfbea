"""Service settings, from the environment (`LEADSCORE_...`) or arguments, checked at start.

In production mode the service refuses to start without an API key, or with a weak one (see
`serving.keys`); development mode may run without keys (on loopback: see `leadscore serve`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from runtime.methods import ReasonsMethod
from serving.keys import refuse_weak_key
from serving.store.settings import DEFAULT_STORE_URL

DEFAULT_MODEL_URI = "models:/lead-conversion@champion"
Keys = Annotated[list[SecretStr], NoDecode]


class ServiceSettings(BaseSettings):
    """Everything the scoring service is configured with."""

    model_config = SettingsConfigDict(
        env_prefix="LEADSCORE_", extra="ignore", protected_namespaces=()
    )

    mode: Literal["development", "production"] = Field(
        "production",
        description="production requires API keys (not placeholders); development may run "
        "without any, for local use.",
    )
    model_uri: str = Field(
        DEFAULT_MODEL_URI,
        description="The model to serve: models:/NAME@ALIAS (reload follows the alias), "
        "models:/NAME/VERSION, runs:/ID/model, or a directory such as models/lead-conversion.",
    )
    api_keys: Keys = Field(
        default_factory=list, description="Keys that may score, comma-separated."
    )
    api_keys_file: Path | None = Field(
        None, description="File with one API key per line (blank lines and # comments skipped)."
    )
    admin_keys: Keys = Field(
        default_factory=list,
        description="Keys that may also use /v1/admin routes, comma-separated.",
    )
    admin_keys_file: Path | None = Field(None, description="File with one admin key per line.")
    max_leads_per_batch: int = Field(1000, ge=1, description="Leads in one /v1/score/batch call.")
    max_events_per_lead: int = Field(5000, ge=1, description="Events in one lead's journey.")
    max_body_bytes: int = Field(
        16 * 1024 * 1024, ge=1024, description="Larger request bodies are refused with 413."
    )
    reasons_positive: int = Field(3, ge=0, description="Reasons raising the score per lead.")
    reasons_negative: int = Field(3, ge=0, description="Reasons lowering the score per lead.")
    reasons_method: ReasonsMethod = Field(
        "path",
        description="path: contributions along each tree's decision path (microseconds); "
        "shap: exact TreeSHAP (milliseconds per lead).",
    )

    store_url: str = Field(
        DEFAULT_STORE_URL,
        description="The journey store: sqlite:///FILE (the default, a file next to the "
        "service), postgresql://USER:PASSWORD@HOST/DB to share one store between processes or "
        "hosts, or none to serve stateless scoring only.",
    )
    max_events_per_ingest: int = Field(10_000, ge=1, description="Events in one /v1/events call.")
    rescore_queue_leads: int = Field(
        10_000,
        ge=1,
        description="Leads waiting to be rescored after their events arrived; when full, "
        "/v1/events waits up to rescore_wait_seconds for room, then answers 503.",
    )
    rescore_batch_leads: int = Field(512, ge=1, description="Leads rescored together.")
    rescore_share: float = Field(
        0.5,
        gt=0,
        le=1,
        description="Under sustained ingestion, the share of time rescoring may take: it "
        "pauses between batches to leave the rest to /v1/events (1: never pauses).",
    )
    rescore_wait_seconds: float = Field(
        5.0, ge=0, description="How long /v1/events waits for room in the rescoring queue."
    )
    history_length: int = Field(
        10, ge=1, le=1000, description="Recorded scores shown with a stored lead."
    )
    trend_window_days: float = Field(
        7.0, gt=0, description="The score trend compares with the oldest score this recent."
    )
    trend_min_change: int = Field(
        5, ge=1, le=100, description="Score points that make a trend improving or declining."
    )

    webhook_allowed_hosts: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Hosts webhooks may be sent to, comma-separated: names or addresses, or "
        ".example.com for a domain and its subdomains. Empty (the default): any host, so "
        "whoever holds an admin key can make the service call any address it reaches.",
    )
    webhook_timeout_seconds: float = Field(
        5.0, gt=0, le=60, description="How long a receiver has to answer a delivery."
    )
    webhook_max_attempts: int = Field(
        8, ge=1, le=50, description="Attempts before a failing delivery is parked."
    )
    webhook_backoff_seconds: float = Field(
        2.0, gt=0, description="Wait after the first failed attempt; doubles on each next one."
    )
    webhook_max_backoff_seconds: float = Field(
        600.0, gt=0, description="The longest wait between two attempts."
    )

    @field_validator("webhook_allowed_hosts", mode="before")
    @classmethod
    def _split_hosts(cls, value: object) -> object:
        if isinstance(value, str):
            return [host.strip() for host in value.split(",") if host.strip()]
        return value

    @field_validator("api_keys", "admin_keys", mode="before")
    @classmethod
    def _split_keys(cls, value: object) -> object:
        if isinstance(value, str):
            return [key.strip() for key in value.split(",") if key.strip()]
        return value

    @model_validator(mode="after")
    def _read_key_files_and_refuse_unsafe_production(self) -> ServiceSettings:
        self.api_keys = [*self.api_keys, *_read_keys(self.api_keys_file)]
        self.admin_keys = [*self.admin_keys, *_read_keys(self.admin_keys_file)]
        self.api_keys_file = self.admin_keys_file = None  # read once: validation is idempotent
        if self.mode == "production":
            if not self.api_keys and not self.admin_keys:
                raise ValueError(
                    "production mode needs an API key: set LEADSCORE_API_KEYS (comma-separated) "
                    "or LEADSCORE_API_KEYS_FILE, or run with LEADSCORE_MODE=development locally."
                )
            for key in (*self.api_keys, *self.admin_keys):
                refuse_weak_key(key.get_secret_value())
        return self

    @property
    def auth_required(self) -> bool:
        """Keys are checked unless development mode runs without any."""
        return bool(self.api_keys or self.admin_keys) or self.mode == "production"


def _read_keys(path: Path | None) -> list[SecretStr]:
    if path is None:
        return []
    if not path.is_file():
        raise ValueError(f"the key file {path} does not exist: create it (one key per line).")
    lines = (line.strip() for line in path.read_text().splitlines())
    return [SecretStr(line) for line in lines if line and not line.startswith("#")]
