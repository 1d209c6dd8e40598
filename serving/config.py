"""Settings of the serving process (pydantic-settings, read from the environment)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class ServingSettings(BaseSettings):
    """Settings of one API process, built once in the entry point and passed down.

    Parameters
    ----------
    home : Path
        Revisit home folder (``$REVISIT_HOME``, default ``./revisit-data``).
    mlflow_tracking_uri : str or None
        ``$MLFLOW_TRACKING_URI``; default ``sqlite:///<home>/mlflow.db``.
    model_name : str
        Registered model name (``$REVISIT_MODEL_NAME``); the ``champion`` alias is served.
    model_alias : str
        Alias of the served version (default ``champion``).
    signing_key : SecretStr or None
        ``$REVISIT_SIGNING_KEY``: only versions whose promotion signature checks
        under this key are served (no key: nothing is served).
    as_of : date or None
        Snapshot as-of date override (``$REVISIT_AS_OF``); ``None`` means the day
        after the warehouse's latest ``recorded_at`` (Asia/Shanghai local midnight).
    reload_interval_s : float
        Seconds between checks for a new champion or a changed warehouse; ``0`` = off.
    tokens_path : Path or None
        Overrides ``<home>/tokens.json``. (The audit log is always ``<home>/audit.db``:
        its location comes from the home alone, so no variable can divert it.)
    audit_busy_timeout_s : float
        Seconds an audit write waits for another writer's lock before the read is refused (503).
    max_body_bytes : int
        Largest request body accepted (bytes, default 1 MiB); larger ones answer 413
        before anything is parsed.
    reasons_top_k : int
        Number of reasons shown per household.
    reasons_cache_size : int
        Maximum number of households whose reasons are cached.
    db_url : str or None
        Task database (``$REVISIT_DB_URL``, e.g. ``postgresql+psycopg://…``); default
        ``sqlite:///<home>/tasks.db``.
    session_key : str or None
        Key that signs the officers' page session cookies (``$REVISIT_SESSION_KEY``);
        default a random key per process (sessions end when the server restarts).
    page_cache_bytes : int
        Budget of the rendered list pages kept per loaded snapshot (bytes; 0 = off),
        ``$REVISIT_PAGE_CACHE_BYTES``; default 64 MiB (about 2 400 pages of 50 rows).
    """

    # case_sensitive: with populate_by_name, a field name is also read from the environment,
    # and case-insensitively `home` would read $HOME (the default home was the user's home)
    model_config = SettingsConfigDict(extra="ignore", populate_by_name=True, case_sensitive=True)

    home: Path = Field(default=Path("revisit-data"), validation_alias="REVISIT_HOME")
    mlflow_tracking_uri: str | None = Field(default=None, validation_alias="MLFLOW_TRACKING_URI")
    model_name: str = Field(default="household-escalation", validation_alias="REVISIT_MODEL_NAME")
    model_alias: str = Field(default="champion", validation_alias="REVISIT_MODEL_ALIAS")
    signing_key: SecretStr | None = Field(default=None, validation_alias="REVISIT_SIGNING_KEY")
    as_of: date | None = Field(default=None, validation_alias="REVISIT_AS_OF")
    reload_interval_s: float = Field(
        default=0.0, ge=0.0, validation_alias="REVISIT_RELOAD_INTERVAL_S"
    )
    tokens_path: Path | None = Field(default=None, validation_alias="REVISIT_TOKENS_FILE")
    audit_busy_timeout_s: float = Field(default=5.0, gt=0, le=60)
    max_body_bytes: int = Field(default=2**20, ge=1024, validation_alias="REVISIT_MAX_BODY_BYTES")
    reasons_top_k: int = Field(default=3, ge=1, le=10)
    reasons_cache_size: int = Field(default=200_000, ge=0)
    page_cache_bytes: int = Field(
        default=64 * 2**20, ge=0, validation_alias="REVISIT_PAGE_CACHE_BYTES"
    )
    db_url: str | None = Field(default=None, validation_alias="REVISIT_DB_URL")
    session_key: str | None = Field(default=None, validation_alias="REVISIT_SESSION_KEY")

    def with_overrides(
        self, *, home: Path | None = None, as_of: date | None = None
    ) -> ServingSettings:
        """Return a copy with the ``--home`` / ``--as-of`` command-line options applied."""
        update: dict[str, object] = {}
        if home is not None:
            update["home"] = Path(home)
        if as_of is not None:
            update["as_of"] = as_of
        return self.model_copy(update=update) if update else self

    @property
    def tracking_uri(self) -> str:
        """MLflow tracking URI: ``$MLFLOW_TRACKING_URI`` or the SQLite file under home."""
        if self.mlflow_tracking_uri:
            return self.mlflow_tracking_uri
        return f"sqlite:///{self.home.resolve() / 'mlflow.db'}"

    @property
    def tokens_file(self) -> Path:
        """Path of the tokens file (``<home>/tokens.json`` unless overridden)."""
        return self.tokens_path if self.tokens_path is not None else self.home / "tokens.json"

    @property
    def tasks_db_url(self) -> str:
        """SQLAlchemy URL of the task database (``$REVISIT_DB_URL`` or ``<home>/tasks.db``)."""
        from campaign.db import default_db_url

        return self.db_url or default_db_url(self.home)

    @property
    def audit_db(self) -> Path:
        """Path of the SQLite audit log: always ``<home>/audit.db``."""
        return self.home / "audit.db"
