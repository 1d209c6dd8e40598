"""The one typed settings object of a Revisit process, read from the environment."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

#: Shortest ``REVISIT_ID_SECRET`` accepted (bytes of its UTF-8 encoding).
MIN_SECRET_BYTES = 32


class Settings(BaseSettings):
    """Process-wide settings, built once in the entry point and passed down.

    Parameters
    ----------
    home : Path
        Revisit home folder (``$REVISIT_HOME``, default ``./revisit-data``):
        holds ``warehouse/``, ``quarantine/``, ``features/``, ``mlflow.db``,
        ``mlartifacts/``, ``audit.db`` and ``tokens.json``.
    id_secret : SecretStr or None
        Key of the HMAC-SHA256 that turns a household head's ID number into a
        pseudonymous ``household_id`` (``$REVISIT_ID_SECRET``); at least 32 bytes,
        a shorter one is refused.
    signing_key : SecretStr or None
        Key of the HMAC-SHA256 with which ``revisit promote`` signs a version
        (``$REVISIT_SIGNING_KEY``, at least 32 bytes; checked where it is used).
    mlflow_tracking_uri : str or None
        ``$MLFLOW_TRACKING_URI``; default ``sqlite:///<home>/mlflow.db``.
    model_name : str
        Registered model name in the MLflow registry.
    db_url : str or None
        SQLAlchemy URL of the task database (``$REVISIT_DB_URL``); default
        ``sqlite:///<home>/tasks.db``.
    audit_only : tuple of str
        Protected attributes the deployment declares audit-only
        (``$REVISIT_AUDIT_ONLY``, comma-separated, e.g. ``ethnicity,religion``;
        headers such as 民族, 宗教, 性别 are accepted and mapped to ``ethnicity``,
        ``religion``, ``sex``). Kept apart at ingestion for the bias audit alone,
        never model features. Default: none.
    """

    # case_sensitive: with populate_by_name, a field name is also read from the environment,
    # and case-insensitively `home` would read $HOME (the default home was the user's home)
    model_config = SettingsConfigDict(extra="ignore", populate_by_name=True, case_sensitive=True)

    home: Path = Field(default=Path("revisit-data"), validation_alias="REVISIT_HOME")
    id_secret: SecretStr | None = Field(default=None, validation_alias="REVISIT_ID_SECRET")
    signing_key: SecretStr | None = Field(default=None, validation_alias="REVISIT_SIGNING_KEY")
    mlflow_tracking_uri: str | None = Field(default=None, validation_alias="MLFLOW_TRACKING_URI")
    model_name: str = Field(default="household-escalation", validation_alias="REVISIT_MODEL_NAME")
    db_url: str | None = Field(default=None, validation_alias="REVISIT_DB_URL")
    audit_only: Annotated[tuple[str, ...], NoDecode] = Field(
        default=(), validation_alias="REVISIT_AUDIT_ONLY"
    )

    @field_validator("id_secret")
    @classmethod
    def _long_enough_secret(cls, value: SecretStr | None) -> SecretStr | None:
        """Refuse a key shorter than 32 bytes (an HMAC key that short can be guessed)."""
        if value is not None:
            n = len(value.get_secret_value().encode("utf-8"))
            if n < MIN_SECRET_BYTES:
                raise ValueError(
                    f"REVISIT_ID_SECRET is too short: expected at least {MIN_SECRET_BYTES} bytes, "
                    f"got {n} (e.g. python -c 'import secrets; print(secrets.token_hex(32))')"
                )
        return value

    @field_validator("audit_only", mode="before")
    @classmethod
    def _parse_audit_only(cls, value: Any) -> tuple[str, ...]:
        """Split the comma-separated list (、 and ， too) and map it to canonical names."""
        from warehouse.store import canonical_audit_attributes

        if value is None:
            return ()
        if isinstance(value, str):
            value = value.replace("、", ",").replace("，", ",").split(",")
        return canonical_audit_attributes(list(value))

    def with_home(self, home: Path | None) -> Settings:
        """Return a copy whose home is ``home`` when given (the ``--home`` option)."""
        return self if home is None else self.model_copy(update={"home": Path(home)})

    @property
    def tracking_uri(self) -> str:
        """MLflow tracking URI: ``$MLFLOW_TRACKING_URI`` or the SQLite file under home."""
        if self.mlflow_tracking_uri:
            return self.mlflow_tracking_uri
        return f"sqlite:///{self.home.resolve() / 'mlflow.db'}"

    @property
    def artifact_location(self) -> str:
        """Absolute artifact root for new MLflow experiments (``<home>/mlartifacts``)."""
        return (self.home.resolve() / "mlartifacts").as_uri()
