"""Configuration read from the environment.

Every setting is an environment variable; this table is the operator's reference.

| variable | default | meaning |
|---|---|---|
| `PERMIT_ENV` | `development` | `development`, `test` or `production`. Outside development the service refuses to start with the development JWT secret. |
| `DATABASE_URL` | `sqlite:///<instance>/permit_service.db` | SQLAlchemy URL; required when `PERMIT_ENV=production` (the service refuses to start on the default SQLite file). PostgreSQL: `postgresql+psycopg://user:pass@host:5432/db`. SQLite runs with WAL, a busy timeout and `BEGIN IMMEDIATE` write transactions; writers of every process queue on a lock file beside the database (`<file>-writers`) and are woken by a FIFO (`<file>-writers.bell`) as each leaves; where the filesystem cannot make a FIFO they poll the lock every millisecond instead, and the log says so once. |
| `DATABASE_POOL_SIZE` | `5` | connections per process (PostgreSQL). |
| `SQLITE_BUSY_TIMEOUT_MS` | `5000` | how long a SQLite writer waits for the lock. |
| `JWT_SECRET_KEY` | development secret | HMAC key for HS256 tokens issued by this service. Required outside development. |
| `JWT_ALGORITHM` | `HS256` | algorithm of tokens this service issues. |
| `JWT_ACCESS_MINUTES` | `15` | access-token lifetime. |
| `JWT_REFRESH_DAYS` | `7` | refresh-token lifetime. |
| `JWT_ISSUER` | `permit-service` | `iss` of issued tokens. |
| `PASSWORD_MIN_LENGTH` | `12` | shortest password a person may set with `POST /api/v1/auth/password` (at least 8; passwords are hashed with Argon2id). |
| `AUTH_MAX_FAILED_ATTEMPTS` | `5` | failed password attempts on one account (login and password change together) after which further attempts are refused with 429 and a `Retry-After`, without the password being checked, until the window below ends. A success clears the count. Counted per username, existing or not, in the database (every worker and instance shares it). At least 1. |
| `AUTH_FAILURE_WINDOW_MINUTES` | `15` | the window those failures are counted in, from the first failure. At least 1. |
| `AUTH_CACHE_SECONDS` | `5` | how long a worker process keeps what it read of a token (revoked or not) and of its caller (active, roles, tenant, password generation, card, departments), so that most requests read neither. A change made through this process (logout, password change, deactivation, roles, card, departments, a client's deactivation) takes effect at once in it; in other worker processes and instances it takes effect within this many seconds. `0` reads them on every request. 0 to 60. |
| `JWT_AUDIENCE` | `permit-service` | `aud` of issued tokens, checked on every token. |
| `EXTERNAL_IDP_ISSUER` | unset | `iss` of an enterprise identity provider whose RS256 tokens are accepted (`sub` = our username, `aud` must name `JWT_AUDIENCE`, `exp` required). Must differ from `JWT_ISSUER`; needs a key file below. |
| `EXTERNAL_IDP_PUBLIC_KEY_FILE` | unset | PEM RSA public key of that provider. |
| `EXTERNAL_IDP_JWKS_FILE` | unset | JWKS file of that provider (keys chosen by `kid`; a token naming an unknown `kid` is refused). |
| `EXTERNAL_IDP_ENTERPRISE` | unset | unified social credit code of the enterprise that runs the provider: its tokens then sign in only that enterprise's staff. Unset: any active person. |
| `MAX_CONTENT_LENGTH` | `1048576` | largest accepted request body in bytes (413 above). |
| `PAGE_SIZE_DEFAULT` / `PAGE_SIZE_MAX` | `50` / `200` | cursor pagination bounds. |
| `IDEMPOTENCY_TTL_HOURS` | `24` | how long an `Idempotency-Key` answer is kept. |
| `DISPLAY_TIMEZONE` | `Asia/Shanghai` | timezone of timestamps in responses (storage is always UTC). |
| `LOG_LEVEL` | `INFO` | level of the JSON logs. The state-machine library's own lines (two per permit transition) show only at `DEBUG`. |
| `SCHEDULER_TICK_SECONDS` | `30` | how often the scheduler expires permits, applies freeze starts and checks monitoring (the most a timed act is late). |
| `SCHEDULER_OUTBOX_SECONDS` | `5` | how often the scheduler delivers the webhook outbox. |
| `MQTT_BRIDGE_CONFIG` | unset | YAML/JSON file of `permit-service mqtt-bridge` (when `--config` is not given); see README, MQTT bridge. |
| `OPCUA_READER_CONFIG` | unset | YAML/JSON file of `permit-service opcua-reader` (when `--config` is not given); see README, OPC UA reader. |
| `POLICY_NIGHT_START` / `POLICY_NIGHT_END` | `20:00` / `06:00` | night window for the hot-work upgrade (HW-03). |
| `POLICY_FEED_SILENCE_MINUTES` | `5` | silence after which a plant feed raises an alarm (DC-03). |
| `POLICY_GAS_TEST_MAX_AGE_MINUTES` | `30` | freshness of the gas test before ignition or entry (HW-04, CS-01). |
| `POLICY_READING_MAX_AGE_HOURS` | `24` | oldest plant reading, position or alarm a push may carry; an older item refuses its batch. |
| `POLICY_READING_MAX_AHEAD_SECONDS` | `120` | how far ahead of the service's clock a pushed timestamp may be (clock skew). |
| `POLICY_CARD_EVIDENCE_MINUTES` | `10` | how recently positioning must have placed the signer's own card in the permit's (or job's) area for it to count as on-site evidence (G-06, HR-02); the service looks the card up itself, and anyone else's card never counts. At least 1. |
| `POLICY_POSITION_ACCURACY_MAX_M` | `10` | the worst accuracy (metres, as the device states it) a position fix may have to count as on-site evidence (G-06, HR-02); the fix must also lie inside the area's boundary. A fix without a stated accuracy never counts. At least 1. |
| `INGEST_BATCH_MAX` | `1000` | most items in one pushed batch (readings, snapshots, sightings, alarms). |
| `INGEST_KEY_RETENTION_DAYS` | `7` | how long a pushed batch's `Idempotency-Key` is remembered (DC-05): a repeat within it is answered, not applied; after it the key is cleared (by the scheduler, or when reused) and the same key is a new batch. The batch's data stays. |
| `WEBHOOK_TIMEOUT_SECONDS` | `5` | how long a webhook receiver has to answer. |
| `WEBHOOK_MAX_ATTEMPTS` | `12` | attempts before a delivery is marked failed (it can still be replayed). |
| `WEBHOOK_BACKOFF_BASE_SECONDS` / `WEBHOOK_BACKOFF_MAX_SECONDS` | `30` / `21600` | retry delay: base x 2^(attempt-1), capped, with jitter. |
| `WEBHOOK_ALLOWED_NETWORKS` | empty | comma-separated addresses or CIDR networks webhooks may reach although refused by default (e.g. `127.0.0.1,::1` for a receiver on the same machine in development or a demo). Private LAN ranges are always allowed; loopback, link-local, multicast, unspecified, the service host's own and reserved (other non-global: documentation, benchmarking) addresses are refused, at subscription and again on every delivery (DC-04). Cloud metadata addresses (169.254.169.254, Alibaba Cloud 100.100.100.200, AWS fd00:ec2::254 and the like) are refused even if listed here; an IPv6 address carrying an IPv4 one (IPv4-mapped, 6to4, Teredo) is judged by the IPv4 address. |
| `PUBLIC_BASE_URL` | the request's own host | the address inspectors' phones reach the service at, printed in the form's QR code (e.g. `https://permits.example.cn`). |
| `VERIFY_RATE_PER_MINUTE` | `30` | scans of the public QR page `/v/{token}` one address may make per minute (per worker process); more are answered 429 with Retry-After. |
"""

from __future__ import annotations

import ipaddress
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

DEV_JWT_SECRET = "dev-only-insecure-secret-change-me-0123456789"  # noqa: S105 - refused outside development
INSTANCE_DIR = Path(__file__).resolve().parent.parent / "instance"


class ConfigError(RuntimeError):
    """The environment describes a configuration the service refuses to run with."""


def _int(env: dict[str, str], name: str, default: int) -> int:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise ConfigError(f"{name} must be an integer, got {raw!r}") from exc


@dataclass
class Config:
    """The service's settings; build with `Config.from_env()`."""

    env: str = "development"
    database_url: str = f"sqlite:///{INSTANCE_DIR / 'permit_service.db'}"
    database_pool_size: int = 5
    sqlite_busy_timeout_ms: int = 5000
    jwt_secret_key: str = DEV_JWT_SECRET
    jwt_algorithm: str = "HS256"
    jwt_access_minutes: int = 15
    jwt_refresh_days: int = 7
    jwt_issuer: str = "permit-service"
    jwt_audience: str = "permit-service"
    password_min_length: int = 12
    auth_max_failed_attempts: int = 5
    auth_failure_window_minutes: int = 15
    auth_cache_seconds: int = 5
    external_idp_issuer: str | None = None
    external_idp_public_key_file: str | None = None
    external_idp_jwks_file: str | None = None
    external_idp_enterprise: str | None = None
    max_content_length: int = 1024 * 1024
    page_size_default: int = 50
    page_size_max: int = 200
    idempotency_ttl_hours: int = 24
    display_timezone: str = "Asia/Shanghai"
    log_level: str = "INFO"
    scheduler_tick_seconds: int = 30
    scheduler_outbox_seconds: int = 5
    ingest_batch_max: int = 1000
    ingest_key_retention_days: int = 7
    webhook_timeout_seconds: int = 5
    webhook_max_attempts: int = 12
    webhook_backoff_base_seconds: int = 30
    webhook_backoff_max_seconds: int = 6 * 3600
    webhook_allowed_networks: tuple[str, ...] = ()
    public_base_url: str | None = None
    verify_rate_per_minute: int = 30
    policy: dict[str, Any] = field(
        default_factory=lambda: {
            "night_start": "20:00",
            "night_end": "06:00",
            "feed_silence_minutes": 5,
            "gas_test_max_age_minutes": 30,
            "reading_max_age_hours": 24,
            "reading_max_ahead_seconds": 120,
            "card_evidence_minutes": 10,
            "position_accuracy_max_m": 10,
        }
    )

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> Config:
        """Read every setting from the environment (see the module docstring)."""
        env = dict(os.environ if environ is None else environ)
        if env.get("PERMIT_ENV") == "production" and not env.get("DATABASE_URL"):
            raise ConfigError("DATABASE_URL must be set in production; the default SQLite file is refused")
        base = cls()
        cfg = cls(
            env=env.get("PERMIT_ENV", base.env),
            database_url=env.get("DATABASE_URL") or base.database_url,
            database_pool_size=_int(env, "DATABASE_POOL_SIZE", base.database_pool_size),
            sqlite_busy_timeout_ms=_int(env, "SQLITE_BUSY_TIMEOUT_MS", base.sqlite_busy_timeout_ms),
            jwt_secret_key=env.get("JWT_SECRET_KEY") or base.jwt_secret_key,
            jwt_algorithm=env.get("JWT_ALGORITHM", base.jwt_algorithm),
            jwt_access_minutes=_int(env, "JWT_ACCESS_MINUTES", base.jwt_access_minutes),
            jwt_refresh_days=_int(env, "JWT_REFRESH_DAYS", base.jwt_refresh_days),
            auth_cache_seconds=_int(env, "AUTH_CACHE_SECONDS", base.auth_cache_seconds),
            password_min_length=_int(env, "PASSWORD_MIN_LENGTH", base.password_min_length),
            auth_max_failed_attempts=_int(env, "AUTH_MAX_FAILED_ATTEMPTS", base.auth_max_failed_attempts),
            auth_failure_window_minutes=_int(
                env, "AUTH_FAILURE_WINDOW_MINUTES", base.auth_failure_window_minutes
            ),
            jwt_issuer=env.get("JWT_ISSUER", base.jwt_issuer),
            jwt_audience=env.get("JWT_AUDIENCE", base.jwt_audience),
            external_idp_issuer=env.get("EXTERNAL_IDP_ISSUER") or None,
            external_idp_public_key_file=env.get("EXTERNAL_IDP_PUBLIC_KEY_FILE") or None,
            external_idp_jwks_file=env.get("EXTERNAL_IDP_JWKS_FILE") or None,
            external_idp_enterprise=env.get("EXTERNAL_IDP_ENTERPRISE") or None,
            max_content_length=_int(env, "MAX_CONTENT_LENGTH", base.max_content_length),
            page_size_default=_int(env, "PAGE_SIZE_DEFAULT", base.page_size_default),
            page_size_max=_int(env, "PAGE_SIZE_MAX", base.page_size_max),
            idempotency_ttl_hours=_int(env, "IDEMPOTENCY_TTL_HOURS", base.idempotency_ttl_hours),
            display_timezone=env.get("DISPLAY_TIMEZONE", base.display_timezone),
            log_level=env.get("LOG_LEVEL", base.log_level),
            scheduler_tick_seconds=_int(env, "SCHEDULER_TICK_SECONDS", base.scheduler_tick_seconds),
            scheduler_outbox_seconds=_int(env, "SCHEDULER_OUTBOX_SECONDS", base.scheduler_outbox_seconds),
            ingest_batch_max=_int(env, "INGEST_BATCH_MAX", base.ingest_batch_max),
            ingest_key_retention_days=_int(env, "INGEST_KEY_RETENTION_DAYS", base.ingest_key_retention_days),
            webhook_timeout_seconds=_int(env, "WEBHOOK_TIMEOUT_SECONDS", base.webhook_timeout_seconds),
            webhook_max_attempts=_int(env, "WEBHOOK_MAX_ATTEMPTS", base.webhook_max_attempts),
            webhook_backoff_base_seconds=_int(
                env, "WEBHOOK_BACKOFF_BASE_SECONDS", base.webhook_backoff_base_seconds
            ),
            webhook_backoff_max_seconds=_int(
                env, "WEBHOOK_BACKOFF_MAX_SECONDS", base.webhook_backoff_max_seconds
            ),
            webhook_allowed_networks=tuple(
                n.strip() for n in env.get("WEBHOOK_ALLOWED_NETWORKS", "").split(",") if n.strip()
            ),
            public_base_url=(env.get("PUBLIC_BASE_URL") or "").rstrip("/") or None,
            verify_rate_per_minute=_int(env, "VERIFY_RATE_PER_MINUTE", base.verify_rate_per_minute),
        )
        cfg.policy.update(
            night_start=env.get("POLICY_NIGHT_START", cfg.policy["night_start"]),
            night_end=env.get("POLICY_NIGHT_END", cfg.policy["night_end"]),
            feed_silence_minutes=_int(env, "POLICY_FEED_SILENCE_MINUTES", cfg.policy["feed_silence_minutes"]),
            gas_test_max_age_minutes=_int(
                env, "POLICY_GAS_TEST_MAX_AGE_MINUTES", cfg.policy["gas_test_max_age_minutes"]
            ),
            reading_max_age_hours=_int(
                env, "POLICY_READING_MAX_AGE_HOURS", cfg.policy["reading_max_age_hours"]
            ),
            reading_max_ahead_seconds=_int(
                env, "POLICY_READING_MAX_AHEAD_SECONDS", cfg.policy["reading_max_ahead_seconds"]
            ),
            card_evidence_minutes=_int(
                env, "POLICY_CARD_EVIDENCE_MINUTES", cfg.policy["card_evidence_minutes"]
            ),
            position_accuracy_max_m=_int(
                env, "POLICY_POSITION_ACCURACY_MAX_M", cfg.policy["position_accuracy_max_m"]
            ),
        )
        cfg.validate()
        return cfg

    def validate(self) -> None:
        """Refuse settings that are unsafe or inconsistent."""
        if self.env not in {"development", "test", "production"}:
            raise ConfigError(f"PERMIT_ENV must be development, test or production, got {self.env!r}")
        if self.env != "development" and self.jwt_secret_key == DEV_JWT_SECRET:
            raise ConfigError(
                "JWT_SECRET_KEY must be set outside development; the development secret is refused"
            )
        if len(self.jwt_secret_key) < 32:
            raise ConfigError("JWT_SECRET_KEY must be at least 32 characters")
        if self.jwt_algorithm not in {"HS256", "HS384", "HS512"}:
            raise ConfigError("JWT_ALGORITHM must be HS256, HS384 or HS512 (tokens this service signs)")
        if not 8 <= self.password_min_length <= 128:
            raise ConfigError("PASSWORD_MIN_LENGTH must be between 8 and 128")
        if min(self.auth_max_failed_attempts, self.auth_failure_window_minutes) < 1:
            raise ConfigError("AUTH_MAX_FAILED_ATTEMPTS and AUTH_FAILURE_WINDOW_MINUTES must be at least 1")
        if not 0 <= self.auth_cache_seconds <= 60:
            raise ConfigError("AUTH_CACHE_SECONDS must be between 0 and 60")
        if not 1 <= self.page_size_default <= self.page_size_max:
            raise ConfigError("PAGE_SIZE_DEFAULT must be between 1 and PAGE_SIZE_MAX")
        for network in self.webhook_allowed_networks:
            try:
                ipaddress.ip_network(network, strict=False)
            except ValueError as exc:
                raise ConfigError(
                    f"WEBHOOK_ALLOWED_NETWORKS: {network!r} is not an address or network"
                ) from exc
        if self.ingest_key_retention_days < 1:
            raise ConfigError(
                "INGEST_KEY_RETENTION_DAYS must be at least 1 (a retried push must still be recognised)"
            )
        if min(self.scheduler_tick_seconds, self.scheduler_outbox_seconds) < 1:
            raise ConfigError("SCHEDULER_TICK_SECONDS and SCHEDULER_OUTBOX_SECONDS must be at least 1")
        if self.policy["card_evidence_minutes"] < 1:
            raise ConfigError(
                "POLICY_CARD_EVIDENCE_MINUTES must be at least 1 (0 or less would refuse every card as evidence)"
            )
        if self.policy["position_accuracy_max_m"] < 1:
            raise ConfigError(
                "POLICY_POSITION_ACCURACY_MAX_M must be at least 1 (less would refuse every position fix)"
            )

    @property
    def is_sqlite(self) -> bool:
        """Whether the database is SQLite."""
        return self.database_url.startswith("sqlite")


def settings() -> Config:
    """The running app's configuration (defaults outside an app, e.g. in a bare script)."""
    from flask import current_app, has_app_context  # config stays importable without Flask's app machinery

    return current_app.config["PERMIT_CONFIG"] if has_app_context() else Config()
