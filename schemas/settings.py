"""The one typed settings object, read from ``NEWSINGEST_*`` variables and an optional ``.env``.

Read it through :func:`get_settings` (cached, validated once). An invalid value
raises :class:`schemas.errors.ConfigError` whose message names the variable, so
the CLI can refuse to start with a one-line explanation.
"""

from __future__ import annotations

import ipaddress
import os
from functools import lru_cache
from typing import Annotated, Any
from urllib.parse import urlsplit, urlunsplit

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from schemas.errors import ConfigError

ENV_PREFIX = "NEWSINGEST_"
SECRET_FIELDS = frozenset({"database_url", "broker_url"})

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def normalize_database_url(url: str) -> str:
    """Accept ``postgres://``, ``postgresql://`` and ``postgresql+psycopg://``; use psycopg 3."""
    url = url.strip()
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def mask_url(url: str | None) -> str | None:
    """Replace the password in a URL by ``***`` (``redis://:pw@h`` and ``pg://u:pw@h`` alike)."""
    if not url:
        return url
    parts = urlsplit(url)
    if parts.password is None:
        return url
    user = parts.username or ""
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    netloc = f"{user}:***@{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))


class Settings(BaseSettings):
    """Every knob of newsingest. Field ``foo_bar`` is set by ``NEWSINGEST_FOO_BAR``."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        validate_default=True,
    )

    # Storage and queue
    database_url: str = Field(
        default="sqlite:///newsingest.db",
        description="SQLAlchemy URL; SQLite file in the working directory by default. "
        "postgresql://, postgres:// and postgresql+psycopg:// all use psycopg 3.",
    )
    broker_url: str | None = Field(
        default=None,
        description="Redis URL of the Celery broker; unset = in-process mode (no Redis).",
    )
    spacy_model: str | None = Field(
        default=None,
        description="spaCy pipeline for entities: an installed package name or a path (that "
        "one model, for its language only); unset = the bundled models, one per language.",
    )
    nlp_languages: str | None = Field(
        default=None,
        description="Languages whose bundled NER models a worker loads, comma-separated ISO "
        "639-1 codes (e.g. 'de,en,fr'); unset = every bundled model. Articles in other "
        "languages are stored without entities (language_not_covered).",
    )
    concurrency: int = Field(
        default=0,
        ge=0,
        le=512,
        description="Worker processes for extraction and NLP; 0 = one per CPU core.",
    )

    nlp_batch_size: int = Field(
        default=16,
        ge=1,
        le=64,
        description="Articles per queue message and per nlp.pipe batch (a batch is also cut "
        "at 50,000 characters: workers.nlp.NLP_BATCH_CHARS).",
    )
    task_max_retries: int = Field(
        default=8, ge=0, le=100, description="Retries of a transient failure before dead-letter."
    )
    retry_backoff_base: float = Field(
        default=2.0,
        gt=0,
        description="Seconds before the first retry of a task or an in-process entity batch; "
        "doubles each time, each wait jittered between 50 % and 150 % of it and at most "
        "NEWSINGEST_RETRY_BACKOFF_MAX (schemas.errors.backoff).",
    )
    retry_backoff_max: float = Field(
        default=120.0, gt=0, description="Longest wait between two retries, in seconds."
    )
    task_time_limit: int = Field(
        default=300, ge=10, description="Seconds a task may run (soft limit; hard = +60)."
    )
    visibility_timeout: int = Field(
        default=3600,
        ge=5,
        description="Seconds before Redis hands an unacknowledged message (its worker died "
        "with it) to another worker; keep it above the longest task.",
    )
    worker_max_memory_mb: int = Field(
        default=600,
        ge=100,
        description="A worker process whose PEAK resident size (ru_maxrss, which is what "
        "Celery checks) went above this is replaced after its task. NER batches are cut at "
        "50,000 characters to bound that peak. Each NER process raises glibc's malloc "
        "thresholds (mmap 64 MB, trim 128 MB: workers.nlp.tune_allocator) so that tok2vec's "
        "large arrays are not unmapped and faulted in again every batch; set any of "
        "MALLOC_MMAP_THRESHOLD_, MALLOC_TRIM_THRESHOLD_, MALLOC_TOP_PAD_ to keep glibc's own.",
    )

    # HTTP
    user_agent: str = Field(
        default="newsingest/0.1",
        min_length=3,
        pattern=r"^[\x21-\x7e][\x20-\x7e]*$",
        description="Product token of the User-Agent header (also matched in robots.txt).",
    )
    contact_url: str = Field(
        default="https://github.com/newsingest/newsingest",
        pattern=r"^(https?://|mailto:)[\x21-\x7e]+$",
        description="Where site owners can reach you; sent as "
        "'User-Agent: newsingest/0.1 (+URL)'. Set it to yours.",
    )
    connect_timeout: float = Field(default=10.0, gt=0, description="Seconds to connect.")
    read_timeout: float = Field(default=20.0, gt=0, description="Seconds between two reads.")
    total_timeout: float = Field(
        default=60.0, gt=0, description="Seconds for a whole response, body included."
    )
    max_feed_bytes: int = Field(
        default=5_000_000, gt=0, description="Cap on a feed body (after decompression)."
    )
    max_page_bytes: int = Field(
        default=5_000_000, gt=0, description="Cap on an article page (after decompression)."
    )
    max_redirects: int = Field(
        default=5, ge=0, le=20, description="Redirects followed per request (loops are caught)."
    )
    fetch_concurrency: int = Field(
        default=32, ge=1, le=1024, description="Concurrent downloads in one fetcher."
    )
    per_host_concurrency: int = Field(
        default=2, ge=1, le=64, description="Concurrent downloads per host."
    )
    per_host_delay: float = Field(
        default=0.0, ge=0, description="Minimum seconds between two requests to one host."
    )
    respect_robots: bool = Field(
        default=True, description="Honour robots.txt for articles (also a per-feed flag)."
    )
    max_articles_per_feed: int = Field(
        default=500, ge=1, description="New links taken from one feed in one poll."
    )
    allowed_networks: Annotated[list[Network], NoDecode] = Field(
        default_factory=list,
        description="Comma-separated CIDRs that may be fetched although private, loopback "
        "or link-local (refused by default).",
    )

    # Scheduling
    default_poll_interval: int = Field(
        default=900, ge=30, description="Seconds between polls of a new feed."
    )
    lock_ttl: int = Field(
        default=600,
        ge=10,
        description="Seconds before a poll lock on a feed (or a stale article claim, or a "
        "scheduler's claim of a due feed) expires.",
    )
    min_poll_interval: int = Field(
        default=300,
        ge=1,
        description="Shortest adaptive interval between two polls of a feed, in seconds.",
    )
    max_poll_interval: int = Field(
        default=86_400,
        ge=60,
        description="Longest adaptive interval between two polls of a feed, in seconds.",
    )
    deactivate_after_failures: int = Field(
        default=30,
        ge=1,
        description="Consecutive failed polls after which a feed is deactivated (410 at once).",
    )
    scheduler_interval: float = Field(
        default=30.0,
        gt=0,
        description="Seconds between two passes of `newsingest scheduler` (sooner when a feed "
        "is due sooner).",
    )

    # Politeness shared across workers (in Redis when a broker is configured)
    host_max_backoff: float = Field(
        default=3600.0,
        gt=0,
        description="Longest pause a host gets after 429/503, in seconds (Retry-After is "
        "capped here).",
    )

    # Dedup
    near_duplicate_distance: int = Field(
        default=3,
        ge=-1,
        le=3,
        description="SimHash bits two texts may differ in to be linked as near-duplicates "
        "(-1 turns near-duplicate linking off).",
    )

    # Metrics
    metrics_port: int | None = Field(
        default=None,
        ge=0,
        le=65535,
        description="Serve Prometheus metrics on this port (worker, scheduler, run); unset = off.",
    )

    log_level: str = Field(default="INFO", description="DEBUG, INFO, WARNING or ERROR.")

    # HTTP API and dashboard (`newsingest serve`)
    api_token: SecretStr | None = Field(
        default=None,
        description="Bearer token of the HTTP API and password of the dashboard; unset = "
        "`serve` listens on loopback only, without authentication.",
    )

    # Read side (issue 16)
    query_timeout: float = Field(
        default=10.0,
        gt=0,
        le=3600,
        description="Seconds a read (articles, article, entities, each step of an export) may "
        "run before it is cancelled.",
    )

    @model_validator(mode="after")
    def _poll_bounds(self) -> Settings:
        if self.min_poll_interval > self.max_poll_interval:
            raise ValueError(
                f"NEWSINGEST_MIN_POLL_INTERVAL ({self.min_poll_interval}) is larger than "
                f"NEWSINGEST_MAX_POLL_INTERVAL ({self.max_poll_interval})"
            )
        return self

    @field_validator("database_url")
    @classmethod
    def _database_url(cls, value: str) -> str:
        value = normalize_database_url(value)
        scheme = value.split(":", 1)[0]
        if scheme not in {"sqlite", "postgresql+psycopg"}:
            raise ValueError("must start with sqlite:/// or postgresql://")
        return value

    @field_validator("broker_url")
    @classmethod
    def _broker_url(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        value = value.strip()
        if urlsplit(value).scheme not in {"redis", "rediss"}:
            raise ValueError("must be a redis:// or rediss:// URL")
        return value

    @field_validator("allowed_networks", mode="before")
    @classmethod
    def _networks(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("spacy_model")
    @classmethod
    def _spacy_model(cls, value: str | None) -> str | None:
        return value.strip() or None if value is not None else None

    @field_validator("api_token")
    @classmethod
    def _api_token(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None or not value.get_secret_value().strip():
            return None
        if len(value.get_secret_value().strip()) < 16:
            raise ValueError("must be at least 16 characters (use `openssl rand -hex 32`)")
        return SecretStr(value.get_secret_value().strip())

    @field_validator("log_level")
    @classmethod
    def _log_level(cls, value: str) -> str:
        value = value.upper()
        if value not in {"DEBUG", "INFO", "WARNING", "ERROR"}:
            raise ValueError("must be DEBUG, INFO, WARNING or ERROR")
        return value

    @property
    def workers(self) -> int:
        """Concurrency with 0 resolved to the number of usable cores."""
        if self.concurrency:
            return self.concurrency
        try:
            return len(os.sched_getaffinity(0))
        except AttributeError:  # pragma: no cover - not Linux
            return os.cpu_count() or 1

    @property
    def full_user_agent(self) -> str:
        """What is sent: ``newsingest/0.1 (+https://contact)``."""
        return f"{self.user_agent} (+{self.contact_url})"

    @property
    def in_process(self) -> bool:
        return self.broker_url is None

    def masked(self) -> dict[str, Any]:
        """Effective values for display, secrets masked."""
        out: dict[str, Any] = {}
        for name in type(self).model_fields:
            value = getattr(self, name)
            if name in SECRET_FIELDS:
                value = mask_url(value)
            elif isinstance(value, SecretStr):
                value = "***" if value.get_secret_value() else ""
            elif name == "allowed_networks":
                value = ",".join(str(n) for n in value)
            out[name] = value
        return out


def load_settings(**overrides: Any) -> Settings:
    """Build Settings, turning a validation error into a ConfigError naming the variables."""
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            if error["loc"]:
                field = str(error["loc"][0])
                problems.append(f"{ENV_PREFIX}{field.upper()}: {error['msg']}")
            else:  # a check across settings: its message names them
                problems.append(str(error["msg"]).removeprefix("Value error, "))
        raise ConfigError("invalid settings: " + "; ".join(problems)) from None


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, validated once."""
    return load_settings()
