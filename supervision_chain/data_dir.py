"""A supervision chain's data directory: its signing key, the regulator's token and its database, each made
once, under a lock, so processes starting together share them."""

from __future__ import annotations

from pathlib import Path

from chain.keys import load_or_create_signer
from chain.note import NoteSigner
from chain_sql import SQLStore, open_store
from chain_sql.migrations import upgrade_schema
from service_kit.data_files import data_dir_lock, secret_token

from .config import KEY_FILE, TOKEN_FILE, SupervisionConfig
from .models import MIGRATIONS

__all__ = ["regulator_token", "data_dir_lock", "prepare_data_dir", "open_supervision_store"]


def regulator_token(data_dir: Path) -> str:
    """The regulator's admin token (made on first start, file mode 0600; complete before anyone can read it)."""
    return secret_token(data_dir, TOKEN_FILE)


def prepare_data_dir(config: SupervisionConfig) -> tuple[NoteSigner, str]:
    """The chain's signer and the regulator token, made on first start under a lock, so API processes
    starting together (or workers started after their parent made them) share one of each."""
    with data_dir_lock(config.data_dir):
        return load_or_create_signer(config.data_dir / KEY_FILE, config.chain_id, config.key_type), regulator_token(config.data_dir)


def open_supervision_store(config: SupervisionConfig) -> SQLStore:
    """The chain's database, migrated to the current schema (a new one is created)."""
    store = open_store(config.db_url or config.data_dir / "supervision.db")
    upgrade_schema(store, MIGRATIONS)  # creates a new database, brings an older one up to date
    return store
