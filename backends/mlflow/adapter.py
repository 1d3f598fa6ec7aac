"""The MLflow backend: one MlflowClient per source; MLflow's exceptions become typed errors.

Promotion moves an alias (stages are deprecated). Each move is also appended to a registered-
model tag (`cockpit.alias_history.ALIAS`, JSON), so the history, and with it `model rollback`,
survives on the server whoever runs the next cockpit.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TypeVar

from backends._lazy import require
from backends.mlflow import translate as tr
from cockpit.contracts import BackendError, BackendFault, BackendUnavailable, BadInput, NotFound
from cockpit.model_registry import HISTORY_TAG, AliasChange, ModelVersion, RegisteredModel, RunData

T = TypeVar("T")
PAGE = 200
HISTORY_KEEP = 40
"""Entries kept per alias in the history tag (MLflow caps a tag value at a few thousand characters)."""


class MlflowBackend:
    kind = "mlflow"

    def __init__(self, source: str, *, tracking_uri: str, registry_uri: str | None = None,
                 read_only: bool = False) -> None:
        # mlflow would otherwise configure logging to stderr, which the UI and the script own
        os.environ.setdefault("MLFLOW_CONFIGURE_LOGGING", "false")
        # its default retries back off for about two minutes; a cockpit says "cannot reach" in seconds
        # (a user's own MLFLOW_HTTP_* settings win)
        os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "2")
        os.environ.setdefault("MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR", "1")
        os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", "10")
        require("mlflow", "mlflow")
        from mlflow import MlflowClient

        self.source = source
        self.read_only = read_only
        self.tracking_uri = tracking_uri
        self.client: Any = MlflowClient(tracking_uri=tracking_uri, registry_uri=registry_uri or tracking_uri)

    def _call(self, fn: Callable[[], T], what: str) -> T:
        from mlflow.exceptions import MlflowException

        try:
            return fn()
        except MlflowException as e:
            code = str(getattr(e, "error_code", ""))
            text = str(e.message if hasattr(e, "message") else e).splitlines()[0][:300]
            if code == "RESOURCE_DOES_NOT_EXIST" or "not found" in text.lower():
                raise NotFound(f"{self.source}: {what}: not found") from None
            if code == "INVALID_PARAMETER_VALUE":
                raise BadInput(f"{self.source}: {what}: {text}") from None
            # the server was reached and kept failing (urllib3's retries end in "too many 500 error
            # responses", after the URL, past the first 300 characters): a fault, not "cannot reach"
            failing = re.search(r"too many (5\d\d) error responses", str(e.message if hasattr(e, "message") else e))
            if failing:
                raise BackendFault(f"{self.source}: {what}: HTTP {failing.group(1)} from the registry") from None
            if "API request to" in text or "Max retries" in text or "Connection" in text:
                raise BackendUnavailable(f"{self.source}: cannot reach the registry: {text}") from None
            raise BackendError(f"{self.source}: {what}: {text}") from None
        except OSError as e:
            raise BackendUnavailable(f"{self.source}: cannot reach the registry: {e}") from None

    # -- reads -------------------------------------------------------------------------------
    def ping(self) -> None:
        self._call(lambda: self.client.search_registered_models(max_results=1), "list models")

    def _pages(self, fetch: Callable[[str | None], Any]) -> Iterator[Any]:
        token: str | None = None
        while True:
            page = fetch(token)
            yield from page
            token = getattr(page, "token", None)
            if not token:
                return

    def models(self) -> list[RegisteredModel]:
        found = self._call(lambda: list(self._pages(
            lambda t: self.client.search_registered_models(max_results=PAGE, page_token=t))), "list models")
        return sorted((tr.registered_model(self.source, m) for m in found), key=lambda m: m.name)

    def model(self, name: str) -> RegisteredModel:
        return tr.registered_model(self.source, self._call(lambda: self.client.get_registered_model(name),
                                                           f"model {name!r}"))

    def versions(self, name: str) -> list[ModelVersion]:
        model = self._call(lambda: self.client.get_registered_model(name), f"model {name!r}")
        aliases = tr.aliases_by_version(model)
        quoted = name.replace("'", "\\'")
        found = self._call(lambda: list(self._pages(lambda t: self.client.search_model_versions(
            f"name='{quoted}'", max_results=PAGE, page_token=t))), f"versions of {name!r}")
        return sorted((tr.model_version(self.source, v, aliases) for v in found), key=lambda v: -v.version)

    def version(self, name: str, version: int) -> ModelVersion:
        model = self._call(lambda: self.client.get_registered_model(name), f"model {name!r}")
        v = self._call(lambda: self.client.get_model_version(name, str(version)), f"model {name!r} version {version}")
        return tr.model_version(self.source, v, tr.aliases_by_version(model))

    def run(self, run_id: str) -> RunData | None:
        """The run behind a version, or None when it was deleted or lives in another store."""
        if not run_id:
            return None
        try:
            return tr.run_data(self._call(lambda: self.client.get_run(run_id), f"run {run_id}"))
        except NotFound:
            return None

    def alias_history(self, name: str, alias: str | None = None) -> list[AliasChange]:
        model = self.model(name)
        return [c for key, value in model.tags if key.startswith(HISTORY_TAG)
                for c in tr.history(key[len(HISTORY_TAG):], value) if alias is None or c.alias == alias]

    # -- changes -----------------------------------------------------------------------------
    def set_alias(self, name: str, alias: str, version: int, previous: int | None, by: str) -> RegisteredModel:
        """Move the alias, then append the move to the model's history tag for that alias."""
        self._call(lambda: self.client.set_registered_model_alias(name, alias, str(version)),
                   f"alias {alias!r} of {name!r}")
        model = self._call(lambda: self.client.get_registered_model(name), f"model {name!r}")
        key = HISTORY_TAG + alias
        past = [c for c in tr.history(alias, (model.tags or {}).get(key, ""))]
        past.append(AliasChange(alias, version, previous, datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"), by))
        value = json.dumps([{"version": c.version, "previous": c.previous, "at": c.at, "by": c.by}
                            for c in past[-HISTORY_KEEP:]], separators=(",", ":"))
        self._call(lambda: self.client.set_registered_model_tag(name, key, value), f"tag {key} of {name!r}")
        return self.model(name)

    def set_tag(self, name: str, version: int | None, key: str, value: str) -> None:
        if version is None:
            self._call(lambda: self.client.set_registered_model_tag(name, key, value), f"tag {key} of {name!r}")
        else:
            self._call(lambda: self.client.set_model_version_tag(name, str(version), key, value),
                       f"tag {key} of {name!r} version {version}")

    def register(self, name: str, run_id: str, path: str, tags: Sequence[tuple[str, str]]) -> ModelVersion:
        run = self._call(lambda: self.client.get_run(run_id), f"run {run_id}")
        source = f"{str(run.info.artifact_uri).rstrip('/')}/{path.strip('/')}"
        try:
            self._call(lambda: self.client.get_registered_model(name), f"model {name!r}")
        except NotFound:
            self._call(lambda: self.client.create_registered_model(name), f"create model {name!r}")
        made = self._call(lambda: self.client.create_model_version(name, source, run_id=run_id, tags=dict(tags)),
                          f"register {name!r} from run {run_id}")
        return self.version(name, int(made.version))

    def close(self) -> None:
        return None


if TYPE_CHECKING:  # the roles cockpit.providers gives "mlflow": mypy checks the class against each role's Protocol
    from cockpit.contracts import RegistryBackend

    _registry: type[RegistryBackend] = MlflowBackend
