"""Signing promoted model versions, and loading only what a signature vouches for.

``revisit promote`` signs the version it promotes: an HMAC-SHA256, keyed with
``REVISIT_SIGNING_KEY`` (at least 32 bytes), over a canonical JSON message that
names the registered model, the version, its training run and the SHA-256 of
each file of its serving bundle (see :mod:`models.bundle`). The hex digest is
stored as the version tag ``revisit.signature`` (the hashes beside it as
``revisit.bundle_sha256``, for people; the check recomputes them).

Serving (:func:`load_verified`) downloads the bundle files of the version the
alias names, recomputes their hashes and the HMAC, compares in constant time,
and only then rebuilds the model from data (no unpickling). So an alias moved
by hand (MLflow UI, REST API, ``MlflowClient``) to an unsigned version, a
signature copied from another version, or an altered artifact is refused.

The key never leaves the process: it is not logged, tagged or put in errors.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from models.bundle import (
    BUNDLE_ARTIFACT_PATH,
    BUNDLE_FILES,
    bundle_hashes,
    load_bundle,
)
from models.risk_model import EscalationModel

#: Version tags written by :func:`sign_version`.
SIGNATURE_TAG = "revisit.signature"
HASHES_TAG = "revisit.bundle_sha256"
#: Shortest key accepted (bytes of its UTF-8 encoding).
MIN_KEY_BYTES = 32
KEY_VARIABLE = "REVISIT_SIGNING_KEY"


class SigningError(RuntimeError):
    """A version cannot be signed, or its signature does not check."""


class SigningKeyError(SigningError):
    """The signing key is missing or too short."""


def signing_key_bytes(key: str | bytes | Any | None) -> bytes:
    """The signing key as bytes, refusing a missing or short one.

    Parameters
    ----------
    key : str, bytes, pydantic.SecretStr or None
        ``$REVISIT_SIGNING_KEY`` as read by the process's settings.

    Returns
    -------
    bytes
        The UTF-8 bytes of the key.

    Raises
    ------
    SigningKeyError
        When ``key`` is ``None`` or shorter than :data:`MIN_KEY_BYTES` bytes
        (the message gives the length, never the key).
    """
    if key is not None and hasattr(key, "get_secret_value"):
        key = key.get_secret_value()
    if key is None or key == "" or key == b"":
        raise SigningKeyError(
            f"{KEY_VARIABLE} is not set: set it to a secret of at least {MIN_KEY_BYTES} bytes "
            f"(e.g. the output of: python -c 'import secrets; print(secrets.token_hex(32))')"
        )
    raw = key if isinstance(key, bytes) else str(key).encode("utf-8")
    if len(raw) < MIN_KEY_BYTES:
        raise SigningKeyError(
            f"{KEY_VARIABLE} is too short: expected at least {MIN_KEY_BYTES} bytes, got {len(raw)}"
        )
    return raw


def signed_message(model_name: str, version: str, run_id: str, hashes: dict[str, str]) -> bytes:
    """Canonical bytes the HMAC covers: sorted-key JSON of name, version, run and file hashes."""
    body = {
        "model_name": str(model_name),
        "version": str(version),
        "run_id": str(run_id),
        "files": {name: str(hashes[name]) for name in sorted(hashes)},
    }
    return json.dumps(body, sort_keys=True, separators=(",", ":")).encode("utf-8")


def compute_signature(
    key: bytes, model_name: str, version: str, run_id: str, hashes: dict[str, str]
) -> str:
    """Hex HMAC-SHA256 of :func:`signed_message` under ``key``."""
    return hmac.new(
        key, signed_message(model_name, version, run_id, hashes), hashlib.sha256
    ).hexdigest()


@dataclass(frozen=True)
class VerifiedModel:
    """A model rebuilt from a bundle whose signature checked."""

    model: EscalationModel
    version: str
    run_id: str
    hashes: dict[str, str]


def _download_bundle(client: Any, run_id: str, dst: Path) -> Path:
    """Download the run's bundle files into ``dst`` (the files only, nothing else)."""
    folder = dst / BUNDLE_ARTIFACT_PATH
    folder.mkdir(parents=True, exist_ok=True)
    for name in BUNDLE_FILES:
        got = Path(client.download_artifacts(run_id, f"{BUNDLE_ARTIFACT_PATH}/{name}", str(folder)))
        if got != folder / name:  # the artifact repository's layout: put the file where we hash it
            got.replace(folder / name)
    return folder


def _version(client: Any, model_name: str, version: str) -> Any:
    try:
        return client.get_model_version(model_name, str(version))
    except Exception as err:  # MlflowException and store errors
        raise SigningError(
            f"expected a registered version {version!r} of {model_name!r}, found none"
        ) from err


def sign_version(client: Any, model_name: str, version: str, key: str | bytes | Any | None) -> str:
    """Sign a registered version: hash its bundle files, tag the HMAC.

    Parameters
    ----------
    client : mlflow.MlflowClient
        Client of the registry (and its tracking store).
    model_name, version : str
        The version to sign.
    key : str, bytes, SecretStr or None
        ``$REVISIT_SIGNING_KEY``.

    Returns
    -------
    str
        The hex signature written to the tag :data:`SIGNATURE_TAG`.

    Raises
    ------
    SigningKeyError
        No key or a short one.
    SigningError
        The version has no run or no serving bundle (trained before bundles
        existed: retrain it).
    """
    raw_key = signing_key_bytes(key)
    mv = _version(client, model_name, version)
    if not mv.run_id:
        raise SigningError(f"version {version} of {model_name!r} has no training run to sign")
    with tempfile.TemporaryDirectory(prefix="revisit-sign-") as tmp:
        try:
            folder = _download_bundle(client, mv.run_id, Path(tmp))
            hashes = bundle_hashes(folder)
        except Exception as err:
            raise SigningError(
                f"version {version} of {model_name!r} has no serving bundle "
                f"({BUNDLE_ARTIFACT_PATH}/ in run {mv.run_id}): retrain it with revisit train"
            ) from err
    signature = compute_signature(raw_key, model_name, str(version), str(mv.run_id), hashes)
    client.set_model_version_tag(model_name, str(version), HASHES_TAG, json.dumps(hashes))
    client.set_model_version_tag(model_name, str(version), SIGNATURE_TAG, signature)
    return signature


def load_verified(
    client: Any, model_name: str, version: str, key: str | bytes | Any | None
) -> VerifiedModel:
    """Download a version's bundle, check its signature, and rebuild the model from data.

    Parameters
    ----------
    client : mlflow.MlflowClient
    model_name, version : str
    key : str, bytes, SecretStr or None
        ``$REVISIT_SIGNING_KEY`` (the same key ``revisit promote`` signed with).

    Returns
    -------
    VerifiedModel

    Raises
    ------
    SigningKeyError
        No key or a short one.
    SigningError
        The version is unsigned, its signature does not match its bundle
        (altered artifact, signature of another version, other key), or it has
        no bundle. Nothing of the version is loaded in that case.
    BundleError
        The signed bundle cannot be read (a bug rather than an attack).
    """
    raw_key = signing_key_bytes(key)
    mv = _version(client, model_name, version)
    tags = dict(getattr(mv, "tags", None) or {})
    signature = tags.get(SIGNATURE_TAG)
    if not signature:
        raise SigningError(
            f"version {version} of {model_name!r} is not signed: only versions promoted with "
            f"revisit promote are served (was the alias moved by hand?)"
        )
    if not mv.run_id:
        raise SigningError(f"version {version} of {model_name!r} has no training run")
    with tempfile.TemporaryDirectory(prefix="revisit-load-") as tmp:
        try:
            folder = _download_bundle(client, mv.run_id, Path(tmp))
            hashes = bundle_hashes(folder)
        except Exception as err:
            raise SigningError(
                f"version {version} of {model_name!r}: could not read its serving bundle "
                f"({type(err).__name__})"
            ) from err
        expected = compute_signature(raw_key, model_name, str(version), str(mv.run_id), hashes)
        if not hmac.compare_digest(expected, str(signature)):
            raise SigningError(
                f"version {version} of {model_name!r}: the signature does not match its artifacts "
                f"(altered artifact, a signature of another version, or another signing key)"
            )
        model = load_bundle(folder)  # BundleError: a signed bundle that does not read
    return VerifiedModel(model=model, version=str(version), run_id=str(mv.run_id), hashes=hashes)
