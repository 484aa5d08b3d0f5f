"""API worker processes: `fivechains supervision serve --workers N` runs N of these on one port.

uvicorn's process manager starts each worker (a fresh interpreter, sharing the listening
socket), restarts one that dies, and passes SIGTERM on for a graceful stop. Each worker calls
``app_from_environment()`` and builds its own :class:`SupervisionChain` from the configuration
the parent left in the environment; on PostgreSQL they share the database and elect the one
that seals.
"""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path
from typing import Any

from .service import SupervisionChain, SupervisionConfig

ENV = "FIVECHAINS_SUPERVISION_WORKER_CONFIG"
_PATHS = {"data_dir", "certs_dir"}


def config_to_env(config: SupervisionConfig) -> str:
    """The configuration as JSON, for the environment of the worker processes."""
    return json.dumps({k: str(v) if k in _PATHS and v is not None else v for k, v in dataclasses.asdict(config).items()})


def config_from_env() -> SupervisionConfig:
    values: dict[str, Any] = json.loads(os.environ[ENV])
    return SupervisionConfig(**{k: Path(v) if k in _PATHS and v is not None else v for k, v in values.items()})


def app_from_environment():  # -> FastAPI; uvicorn's app factory (import string with factory=True)
    from service_kit.observability import configure_logging

    from .api import create_app

    configure_logging(os.environ.get("FIVECHAINS_LOG__LEVEL", "INFO"), os.environ.get("FIVECHAINS_LOG__FORMAT", "text"),
                      os.environ.get("FIVECHAINS_LOG__ACCESS") == "true")

    return create_app(SupervisionChain(config_from_env()))
