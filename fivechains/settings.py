"""Configuration of the running services: typed, validated once at start-up, from (highest first)
command-line flags, FIVECHAINS_* environment variables, and an optional TOML file.

The file is named by ``--config`` or ``FIVECHAINS_CONFIG``; sections mirror the model
(``[supervision]``, ``[judicial]``, ``[portal]``, ``[risk]``, ``[credit]``, ``[service]``, ``[log]``); a nested value in the environment is
``FIVECHAINS_SUPERVISION__SEAL_INTERVAL_MS=250``. Every wrong value is reported at once, each
with where it came from, and nothing starts. Secrets (database passwords, tokens) are masked
whenever the configuration is shown.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict, TomlConfigSettingsSource

from chain.keys import CHAIN_SUITES

__all__ = ["Settings", "SettingsError", "load_settings", "masked"]

ENV_PREFIX = "FIVECHAINS_"
CHAIN_SUBDIRS = {"supervision": "supervision", "judicial": "judicial", "risk": "risk", "credit": "credit", "service": "service"}  # where `fivechains up` keeps each chain under DATA_DIR


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SupervisionSettings(_Section):
    host: str = "127.0.0.1"
    port: int = Field(8400, ge=1, le=65535)
    data_dir: Path | None = Field(None, description="default: DATA_DIR/supervision")
    db_url: str | None = Field(None, description="postgresql+psycopg://… for several API processes; default SQLite in data_dir")
    chain_id: str = Field("supervision.fivechains.local/gz", min_length=3, max_length=200, pattern=r"^[^\s+]+$")
    workers: int = Field(1, ge=1, le=64, description="API processes (more than one needs PostgreSQL)")
    seal_entries: int = Field(10_000, ge=1, le=1_000_000)
    seal_interval_ms: int = Field(500, ge=10, le=3_600_000)
    late_after_ms: int = Field(24 * 3600 * 1000, ge=1_000)
    judicial: str | None = Field(None, pattern=r"^[A-Za-z0-9.\-\[\]:]+:\d{1,5}$", description="HOST:PORT of the judicial chain")

    @field_validator("db_url")
    @classmethod
    def _known_database(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("sqlite:", "postgresql+psycopg:", "postgresql:")):
            raise ValueError("must be a sqlite:… or postgresql+psycopg://… URL")
        return value


class JudicialSettings(_Section):
    host: str = "127.0.0.1"
    port: int = Field(8500, ge=1, le=65535)
    data_dir: Path | None = Field(None, description="default: DATA_DIR/judicial")
    db_url: str | None = None
    witnesses: list[str] = Field(default_factory=list, description="URL=VKEY of each witness")
    quorum: int = Field(0, ge=0, le=64, description="cosignatures needed; 0 = all witnesses")

    @field_validator("witnesses")
    @classmethod
    def _witness_form(cls, value: list[str]) -> list[str]:
        for spec in value:
            if not re.match(r"^https?://[^=\s]+=[^\s]+$", spec):
                raise ValueError(f"a witness is URL=VKEY, got {spec!r}")
        return value


class PortalSettings(_Section):
    host: str = "127.0.0.1"
    port: int = Field(8600, ge=1, le=65535)
    trust_forwarded_proto: bool = Field(False, description="behind a TLS proxy that sets X-Forwarded-Proto: cookies become Secure")


class RiskSettingsSection(_Section):
    host: str = "127.0.0.1"
    port: int = Field(8800, ge=1, le=65535)
    data_dir: Path | None = Field(None, description="default: DATA_DIR/risk")
    db_url: str | None = Field(None, description="postgresql+psycopg://…; default SQLite in data_dir")
    chain_id: str = Field("risk.fivechains.local/gz-risk-centre", min_length=3, max_length=200, pattern=r"^[^\s+]+$")
    model: Path | None = Field(None, description="the scorecard model file (TOML); default: the model shipped with the risk chain")
    seal_interval_ms: int = Field(500, ge=10, le=3_600_000)
    feed_interval_ms: int = Field(500, ge=10, le=3_600_000, description="how often to look for newly sealed reports")
    reopen_after_days: int = Field(3, ge=1, le=365, description="a closed warning reopens when the lender stays in orange/red this long")
    lpr_bp: int = Field(300, ge=1, le=10_000, description="the one-year LPR in basis points (the rate cap is cap_multiple × LPR)")
    cap_multiple: int = Field(4, ge=1, le=100)
    enabled: bool = Field(True, description="`fivechains up` starts the risk chain")

    @field_validator("db_url")
    @classmethod
    def _known_database(cls, value: str | None) -> str | None:
        return SupervisionSettings._known_database(value)  # type: ignore[operator]


class CreditSettingsSection(_Section):
    host: str = "127.0.0.1"
    port: int = Field(8900, ge=1, le=65535)
    data_dir: Path | None = Field(None, description="default: DATA_DIR/credit")
    db_url: str | None = Field(None, description="postgresql+psycopg://…; default SQLite in data_dir")
    chain_id: str = Field("credit.fivechains.local/gz-credit-bureau", min_length=3, max_length=200, pattern=r"^[^\s+]+$")
    rules: Path | None = Field(None, description="the bureau's rule file (TOML); default: the rules shipped with the credit chain")
    seal_interval_ms: int = Field(500, ge=10, le=3_600_000)
    feed_interval_ms: int = Field(500, ge=10, le=3_600_000, description="how often to look for newly sealed reports")
    evaluations_per_day: int = Field(200_000, ge=1, le=100_000_000, description="OPRF evaluations a lender may ask for per day")
    enabled: bool = Field(True, description="`fivechains up` starts the credit chain")

    @field_validator("db_url")
    @classmethod
    def _known_database(cls, value: str | None) -> str | None:
        return SupervisionSettings._known_database(value)  # type: ignore[operator]


class ServiceSettingsSection(_Section):
    host: str = "127.0.0.1"
    port: int = Field(9000, ge=1, le=65535)
    data_dir: Path | None = Field(None, description="default: DATA_DIR/service")
    db_url: str | None = Field(None, description="postgresql+psycopg://…; default SQLite in data_dir")
    chain_id: str = Field("service.fivechains.local/gz-service-platform", min_length=3, max_length=200, pattern=r"^[^\s+]+$")
    rules: Path | None = Field(None, description="the platform's rule file (TOML); default: the rules shipped with the service chain")
    seal_interval_ms: int = Field(500, ge=10, le=3_600_000)
    feed_interval_ms: int = Field(500, ge=10, le=3_600_000, description="how often to look for newly anchored reports")
    check_workers: int | None = Field(None, ge=0, le=64, description="processes checking big pool chunks (default one per core, "
                                                                      "at most 4; 0 checks in the request's thread)")
    enabled: bool = Field(True, description="`fivechains up` starts the service chain")

    @field_validator("db_url")
    @classmethod
    def _known_database(cls, value: str | None) -> str | None:
        return SupervisionSettings._known_database(value)  # type: ignore[operator]


class LogSettings(_Section):
    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    format: Literal["json", "text"] = "text"
    access: bool = Field(False, description="one line per HTTP request (method, path, status, ms, request id)")


class Settings(BaseSettings):
    """Everything a `fivechains up` / `serve` needs; each section can be set in TOML or the environment."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, env_nested_delimiter="__", extra="forbid", validate_default=True)

    data_dir: Path = Path("data")
    suite: Literal["ed25519", "sm2"] = Field("ed25519", description="a new chain's signatures and trees: ed25519 (Ed25519 + SHA-256) "
                                                                    "or sm2 (SM2 + SM3, GB/T 32918 and 32905); an existing chain keeps its own")
    certs_dir: Path | None = Field(None, description="consortium certificates; default: DATA_DIR/certs")
    supervision: SupervisionSettings = SupervisionSettings()
    judicial: JudicialSettings = JudicialSettings()
    portal: PortalSettings = PortalSettings()
    risk: RiskSettingsSection = RiskSettingsSection()
    credit: CreditSettingsSection = CreditSettingsSection()
    service: ServiceSettingsSection = ServiceSettingsSection()
    log: LogSettings = LogSettings()

    @classmethod
    def settings_customise_sources(cls, settings_cls: type[BaseSettings], init_settings: PydanticBaseSettingsSource,
                                   env_settings: PydanticBaseSettingsSource, dotenv_settings: PydanticBaseSettingsSource,
                                   file_secret_settings: PydanticBaseSettingsSource) -> tuple[PydanticBaseSettingsSource, ...]:
        if settings_cls.model_config.get("toml_file") is None:
            return init_settings, env_settings
        return init_settings, env_settings, TomlConfigSettingsSource(settings_cls)

    def key_type(self) -> str:
        """A new chain's signing key type."""
        return CHAIN_SUITES[self.suite][0]

    def hash_suite(self) -> str:
        """A new chain's tree hash."""
        return CHAIN_SUITES[self.suite][1]

    def supervision_dir(self) -> Path:
        return self.supervision.data_dir or self.data_dir / CHAIN_SUBDIRS["supervision"]

    def judicial_dir(self) -> Path:
        return self.judicial.data_dir or self.data_dir / CHAIN_SUBDIRS["judicial"]

    def risk_dir(self) -> Path:
        return self.risk.data_dir or self.data_dir / CHAIN_SUBDIRS["risk"]

    def credit_dir(self) -> Path:
        return self.credit.data_dir or self.data_dir / CHAIN_SUBDIRS["credit"]

    def service_dir(self) -> Path:
        return self.service.data_dir or self.data_dir / CHAIN_SUBDIRS["service"]

    def certs(self) -> Path:
        return self.certs_dir or self.data_dir / "certs"


class SettingsError(ValueError):
    """Every wrong value, one line each, with where it came from."""


def load_settings(config: Path | None = None, flags: dict[str, Any] | None = None) -> Settings:
    """Flags (a nested dict of the values given on the command line) over environment over TOML over defaults."""
    path = config or (Path(os.environ[ENV_PREFIX + "CONFIG"]) if os.environ.get(ENV_PREFIX + "CONFIG") else None)
    if path is not None and not path.is_file():
        raise SettingsError(f"the configuration file {path} does not exist")


    class FromFile(Settings):  # the file is a class setting in pydantic-settings: one subclass per load, no global state
        model_config = SettingsConfigDict(**{**Settings.model_config, "toml_file": path})

    try:
        return FromFile(**_prune(flags or {}))
    except ValidationError as exc:
        lines = []
        for error in exc.errors():
            dotted = ".".join(str(part) for part in error["loc"])
            given = error.get("input")
            lines.append(f"{dotted}: {error['msg']} (got {_mask_value(dotted, given)!r}, from {_origin(dotted, flags or {}, path)})")
        raise SettingsError("the configuration is not valid:\n  " + "\n  ".join(lines)) from None
    except (OSError, ValueError) as exc:  # a TOML syntax error, an unreadable file
        raise SettingsError(f"the configuration file {path} cannot be read: {exc}") from None


def _prune(flags: dict[str, Any]) -> dict[str, Any]:
    """Drop flags the user did not give (None), keep nesting."""
    out: dict[str, Any] = {}
    for key, value in flags.items():
        if isinstance(value, dict):
            value = _prune(value)
            if value:
                out[key] = value
        elif value is not None and value != []:
            out[key] = value
    return out


def _origin(dotted: str, flags: dict[str, Any], path: Path | None) -> str:
    env = ENV_PREFIX + dotted.replace(".", "__").upper()
    node: Any = _prune(flags)
    for part in dotted.split("."):
        node = node.get(part) if isinstance(node, dict) else None
    if node is not None:
        return "the command line"
    if env in os.environ:
        return env
    return str(path) if path is not None else "the defaults"


SECRET_NAMES = re.compile(r"(token|password|secret|key)$", re.I)


def _mask_value(name: str, value: Any) -> Any:
    if isinstance(value, str) and name.endswith("db_url"):
        return re.sub(r"(://[^:/@]+:)[^@]*@", r"\1***@", value)
    if isinstance(value, str) and SECRET_NAMES.search(name.rsplit(".", 1)[-1]):
        return "***"
    return value


def masked(settings: Settings) -> dict[str, Any]:
    """The effective configuration as plain JSON-ready data, secrets masked."""

    def walk(prefix: str, value: Any) -> Any:
        if isinstance(value, dict):
            return {k: walk(f"{prefix}.{k}" if prefix else k, v) for k, v in value.items()}
        if isinstance(value, Path):
            return str(value)
        return _mask_value(prefix, value)

    return walk("", settings.model_dump())
