"""Settings, read once from the environment into a typed, immutable object.

Every process builds one ``Settings`` at start-up (``Settings.from_env()``) and
passes it down; nothing reads ``os.environ`` later, so a test can build the
settings it needs without touching the process environment.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from bot.languages import DEFAULT_LANGUAGE, SUPPORTED_LANGUAGES

#: The repository root: data, models and the var/ directory are found from here.
PROJECT_ROOT = Path(__file__).resolve().parent.parent

DEV_ADMIN_TOKEN = "dev-admin-token"
DEV_CUSTOMER_SECRET = "dev-customer-token-secret"
DEV_CONVERSATION_SECRET = "dev-conversation-key-secret"
#: The environments there are: anything else is a typo that must not fall back to development.
ENVIRONMENTS = ("development", "production")
#: Shortest secret accepted wherever the service can be reached from other machines.
MIN_SECRET_LENGTH = 24
HOW_TO_MAKE_A_SECRET = "python -c 'import secrets; print(secrets.token_urlsafe(32))'"


class SettingsError(ValueError):
    """A setting is missing or wrong; the message says which and how to fix it."""


@dataclass(frozen=True)
class Settings:
    """What the web service, the action server and the launcher need to know."""

    environment: str = "development"
    host: str = "127.0.0.1"
    web_port: int = 8000
    rasa_port: int = 5005
    action_port: int = 5055
    store_name: str = "Demo Store"
    support_email: str = "support@example.com"
    default_language: str = DEFAULT_LANGUAGE
    max_message_length: int = 2000
    rasa_timeout_seconds: float = 30.0
    #: Rasa's callbacks (NLG) are served on their own listener on 127.0.0.1, never on the
    #: public port; 0: a free port chosen when the supervisor starts the processes.
    nlg_port: int = 0
    #: Secrets between our own processes. Empty: generated for each run by the supervisor
    #: (development only; production requires them so that separately started processes agree).
    #: Rasa sends NLG_TOKEN in a header to the NLG listener; Rasa's HTTP API (--enable-api)
    #: requires RASA_TOKEN; the action server requires ACTION_SERVER_SECRET from Rasa.
    nlg_token: str = ""
    rasa_token: str = ""
    action_server_secret: str = ""
    var_dir: Path = PROJECT_ROOT / "var"
    model_path: Path = PROJECT_ROOT / "models" / "current.tar.gz"
    knowledge_base_dir: Path = PROJECT_ROOT / "knowledge_base"
    #: Business hours and service levels (bot/service/hours.py).
    service_file: Path = PROJECT_ROOT / "data" / "service.yml"
    #: SQLAlchemy URL; empty means the SQLite file ``var_dir/assistant.db``.
    database_url_setting: str = ""
    #: Bearer token for the knowledge-base admin API (until staff accounts exist).
    admin_token: str = DEV_ADMIN_TOKEN
    #: Shared with the store's server, which signs customer tokens with it (bot/orders/tokens.py).
    customer_token_secret: str = DEV_CUSTOMER_SECRET
    #: Signs the key issued with each conversation id (bot/web/messages.py): the proof a
    #: widget must show to read or continue its conversation. The service's own secret.
    conversation_secret: str = DEV_CONVERSATION_SECRET
    #: Open chat WebSockets allowed from one client address at a time.
    sockets_per_address: int = 20
    #: Hellos and history reads per client address: sustained per second, and in one burst.
    reads_per_second: float = 2.0
    reads_burst: int = 40
    #: A buyer message claimed but unanswered for this long is taken over by a retry
    #: (its worker died); 0: the Rasa timeout plus 10 s.
    claim_stale_seconds: float = 0.0
    #: Messages a conversation may send per second, sustained, and in one burst;
    #: faster senders are told to slow down (bot/web/throttle.py).
    chat_rate_per_second: float = 1.0
    chat_burst: int = 8
    #: The same for all conversations from one client address (many buyers can share one).
    address_rate_per_second: float = 10.0
    address_burst: int = 80
    #: Behind a reverse proxy, the buyer's address is the last X-Forwarded-For entry.
    trust_forwarded_for: bool = False
    #: Store origins allowed to embed the widget ("*": any); checked for CORS and WebSockets.
    widget_origins: tuple[str, ...] = ("*",)
    #: Serve the demo storefront at /store (off in production: it signs demo customers in).
    demo_store: bool = True
    #: Staff sign-in: failed attempts per account, and per client address, within
    #: ``signin_lockout_seconds`` that lock it for that long (bot/staff/signin_limits.py).
    signin_failures_per_account: int = 10
    signin_failures_per_address: int = 30
    signin_lockout_seconds: float = 900.0

    @property
    def rasa_url(self) -> str:
        return f"http://127.0.0.1:{self.rasa_port}"

    @property
    def action_server_url(self) -> str:
        return f"http://127.0.0.1:{self.action_port}/webhook"

    @property
    def web_url(self) -> str:
        return f"http://{self.host}:{self.web_port}"

    @property
    def nlg_url(self) -> str:
        """Rasa's NLG callback: the loopback-only listener; the token travels in a header."""
        return f"http://127.0.0.1:{self.nlg_port}/nlg"

    @property
    def on_loopback(self) -> bool:
        """Whether the web service listens on this machine only (HOST)."""
        if self.host.strip().lower() == "localhost":
            return True
        try:
            return ipaddress.ip_address(self.host.strip().strip("[]")).is_loopback
        except ValueError:
            return False

    @property
    def defaults_allowed(self) -> bool:
        """The public development secrets are safe only where nobody else can reach them."""
        return self.environment == "development" and self.on_loopback

    @property
    def database_url(self) -> str:
        return self.database_url_setting or f"sqlite:///{self.var_dir / 'assistant.db'}"

    @property
    def kb_backup_dir(self) -> Path:
        """Where the admin API keeps the previous version of every file it replaces."""
        return self.var_dir / "kb-backups"

    @property
    def rasa_tracker_db(self) -> Path:
        """Rasa's own SQLite file when the assistant's database is SQLite: kept apart from
        ``assistant.db`` because SQLite lets one process write at a time, and Rasa writes
        on every message."""
        return self.var_dir / "rasa-tracker.db"

    def rasa_tracker_environment(self) -> dict[str, str]:
        """The tracker store's settings, read by ``endpoints.yml`` (``RASA_TRACKER_URL``,
        ``RASA_TRACKER_DB``): with PostgreSQL, the assistant's own database; with SQLite,
        the separate file ``rasa_tracker_db``.

        For PostgreSQL the URL is handed over whole, because Rasa's ``SQLTrackerStore``
        uses a ``url`` containing ``://`` as is: the password's escaping, the port and
        query options (``sslmode``, a socket directory as ``host``) arrive unchanged.
        Separate host/port/username/password fields cannot promise that: an empty ``port``
        stops Rasa, so does a password of ``$`` (Rasa's ``${...}`` check), and there is no
        field for the query. The driver becomes the dialect's default (psycopg2 for
        PostgreSQL), the one installed in Rasa's environment, whatever driver the app's
        URL names. Rasa then creates its ``events`` table next to ours (no clash:
        ``bot.db.database.RASA_TABLES``).
        """
        from sqlalchemy.engine import make_url

        url = make_url(self.database_url)
        backend = url.get_backend_name()
        if backend == "sqlite":
            # An empty url makes Rasa build a SQLite URL from endpoints.yml's dialect and db.
            return {"RASA_TRACKER_URL": "", "RASA_TRACKER_DB": str(self.rasa_tracker_db)}
        return {
            "RASA_TRACKER_URL": url.set(drivername=backend).render_as_string(hide_password=False),
            # Only shown in Rasa's log ("Connection to SQL database ... successful").
            "RASA_TRACKER_DB": url.database or "",
        }

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Build settings from ``environ`` (default: the process environment).

        Refuses default, short or shared secrets unless the service is in development on
        loopback (``check_secrets``).
        """
        env = os.environ if environ is None else environ
        defaults = cls()

        def integer(name: str, default: int, minimum: int = 1) -> int:
            raw = env.get(name)
            if raw in (None, ""):
                return default
            try:
                value = int(raw)
            except ValueError as error:
                raise SettingsError(f"{name} must be a whole number, got {raw!r}") from error
            if value < minimum:
                raise SettingsError(f"{name} must be at least {minimum}, got {value}")
            return value

        def flag(name: str, default: bool) -> bool:
            raw = env.get(name, "").strip().lower()
            return default if raw == "" else raw in ("1", "true", "yes", "on")

        environment = env.get("APP_ENV", "").strip().lower() or defaults.environment
        if environment not in ENVIRONMENTS:
            raise SettingsError(f"APP_ENV must be one of {', '.join(ENVIRONMENTS)}, got {environment!r}")
        host = env.get("HOST", "").strip() or defaults.host
        language = env.get("DEFAULT_LANGUAGE", defaults.default_language).strip().lower()
        if language not in SUPPORTED_LANGUAGES:
            raise SettingsError(
                f"DEFAULT_LANGUAGE must be one of {', '.join(SUPPORTED_LANGUAGES)}, got {language!r}"
            )
        settings = cls(
            environment=environment,
            host=host,
            web_port=integer("WEB_PORT", defaults.web_port),
            rasa_port=integer("RASA_PORT", defaults.rasa_port),
            action_port=integer("ACTION_PORT", defaults.action_port),
            store_name=env.get("STORE_NAME", defaults.store_name),
            support_email=env.get("SUPPORT_EMAIL", defaults.support_email),
            default_language=language,
            max_message_length=integer("MAX_MESSAGE_LENGTH", defaults.max_message_length),
            rasa_timeout_seconds=float(integer("RASA_TIMEOUT_SECONDS", 30)),
            nlg_port=integer("NLG_PORT", defaults.nlg_port, minimum=0),
            nlg_token=env.get("NLG_TOKEN", defaults.nlg_token).strip(),
            rasa_token=env.get("RASA_TOKEN", defaults.rasa_token).strip(),
            action_server_secret=env.get("ACTION_SERVER_SECRET", defaults.action_server_secret).strip(),
            var_dir=Path(env.get("VAR_DIR", str(defaults.var_dir))),
            model_path=Path(env.get("MODEL_PATH", str(defaults.model_path))),
            knowledge_base_dir=Path(env.get("KNOWLEDGE_BASE_DIR", str(defaults.knowledge_base_dir))),
            database_url_setting=env.get("DATABASE_URL", "").strip(),
            service_file=Path(env.get("SERVICE_FILE", str(defaults.service_file))),
            admin_token=env.get("ADMIN_TOKEN", defaults.admin_token),
            customer_token_secret=env.get("CUSTOMER_TOKEN_SECRET", defaults.customer_token_secret),
            conversation_secret=env.get("CONVERSATION_SECRET", defaults.conversation_secret),
            sockets_per_address=integer("CHAT_SOCKETS_PER_ADDRESS", defaults.sockets_per_address),
            reads_per_second=float(integer("CHAT_READS_PER_MINUTE", 120)) / 60,
            reads_burst=integer("CHAT_READS_BURST", defaults.reads_burst),
            chat_rate_per_second=float(integer("CHAT_MESSAGES_PER_MINUTE", 60)) / 60,
            chat_burst=integer("CHAT_BURST", defaults.chat_burst),
            address_rate_per_second=float(integer("ADDRESS_MESSAGES_PER_MINUTE", 600)) / 60,
            address_burst=integer("ADDRESS_BURST", defaults.address_burst),
            trust_forwarded_for=flag("TRUST_X_FORWARDED_FOR", default=False),
            signin_failures_per_account=integer(
                "SIGNIN_FAILURES_PER_ACCOUNT", defaults.signin_failures_per_account
            ),
            signin_failures_per_address=integer(
                "SIGNIN_FAILURES_PER_ADDRESS", defaults.signin_failures_per_address
            ),
            signin_lockout_seconds=float(integer("SIGNIN_LOCKOUT_SECONDS", 900)),
            widget_origins=tuple(
                origin.strip().rstrip("/")
                for origin in env.get("WIDGET_ORIGINS", "*").split(",")
                if origin.strip()
            )
            or ("*",),
            # The demo store signs demo customers in: on by default only where nobody else
            # can reach it (development on loopback); elsewhere only when switched on.
            demo_store=flag(
                "DEMO_STORE", default=environment == "development" and cls(host=host).on_loopback
            ),
        )
        settings.check_secrets()
        return settings

    def check_secrets(self) -> None:
        """Refuse secrets that would let anyone in.

        The development defaults are public (they are in this file): they are accepted only
        in development with HOST on loopback. Elsewhere each secret must be set, 24+
        characters long, and no two secrets may be equal (the admin token must not also
        sign customer tokens). Production also requires the secrets between our own
        processes, which the supervisor otherwise generates for each run.
        """
        where = f"APP_ENV={self.environment}, HOST={self.host}"
        allowed = "default secrets are only accepted with APP_ENV=development and HOST=127.0.0.1"
        secrets: list[tuple[str, str, str]] = [
            ("ADMIN_TOKEN", self.admin_token, DEV_ADMIN_TOKEN),
            ("CUSTOMER_TOKEN_SECRET", self.customer_token_secret, DEV_CUSTOMER_SECRET),
            ("CONVERSATION_SECRET", self.conversation_secret, DEV_CONVERSATION_SECRET),
        ]
        internal = [
            ("RASA_TOKEN", self.rasa_token),
            ("ACTION_SERVER_SECRET", self.action_server_secret),
            ("NLG_TOKEN", self.nlg_token),
        ]
        if not self.defaults_allowed:
            for name, value, default in secrets:
                if value == default:
                    raise SettingsError(
                        f"{name} is the public development default ({where}): set {name} to a "
                        f"random value of {MIN_SECRET_LENGTH}+ characters, e.g. {HOW_TO_MAKE_A_SECRET}; "
                        f"{allowed}"
                    )
            required = [(name, value) for name, value, _ in secrets]
            if self.environment == "production":
                required += internal
            else:
                required += [(name, value) for name, value in internal if value]
            for name, value in required:
                if len(value) < MIN_SECRET_LENGTH:
                    raise SettingsError(
                        f"{name} must be set to a random value of {MIN_SECRET_LENGTH}+ characters "
                        f"({where}), e.g. {HOW_TO_MAKE_A_SECRET}"
                    )
        named = [(name, value) for name, value, _ in secrets] + internal
        seen: dict[str, str] = {}
        for name, value in named:
            if not value:
                continue
            if value in seen:
                raise SettingsError(f"{seen[value]} and {name} must differ: give each its own random value")
            seen[value] = name

    def process_environment(self) -> dict[str, str]:
        """Variables the child processes (Rasa, action server) need, as strings."""
        return {
            "APP_ENV": self.environment,
            "HOST": self.host,
            "WEB_PORT": str(self.web_port),
            "RASA_PORT": str(self.rasa_port),
            "ACTION_PORT": str(self.action_port),
            "STORE_NAME": self.store_name,
            "SUPPORT_EMAIL": self.support_email,
            "DEFAULT_LANGUAGE": self.default_language,
            "MAX_MESSAGE_LENGTH": str(self.max_message_length),
            "NLG_PORT": str(self.nlg_port),
            "NLG_TOKEN": self.nlg_token,
            "RASA_TOKEN": self.rasa_token,
            "ACTION_SERVER_SECRET": self.action_server_secret,
            "VAR_DIR": str(self.var_dir),
            "MODEL_PATH": str(self.model_path),
            "KNOWLEDGE_BASE_DIR": str(self.knowledge_base_dir),
            "DATABASE_URL": self.database_url,
            "SERVICE_FILE": str(self.service_file),
            "ADMIN_TOKEN": self.admin_token,
            "CUSTOMER_TOKEN_SECRET": self.customer_token_secret,
            "CONVERSATION_SECRET": self.conversation_secret,
            "CHAT_SOCKETS_PER_ADDRESS": str(self.sockets_per_address),
            "CHAT_READS_PER_MINUTE": str(max(1, round(self.reads_per_second * 60))),
            "CHAT_READS_BURST": str(self.reads_burst),
            "CHAT_MESSAGES_PER_MINUTE": str(max(1, round(self.chat_rate_per_second * 60))),
            "CHAT_BURST": str(self.chat_burst),
            "ADDRESS_MESSAGES_PER_MINUTE": str(max(1, round(self.address_rate_per_second * 60))),
            "ADDRESS_BURST": str(self.address_burst),
            "TRUST_X_FORWARDED_FOR": "1" if self.trust_forwarded_for else "",
            "SIGNIN_FAILURES_PER_ACCOUNT": str(self.signin_failures_per_account),
            "SIGNIN_FAILURES_PER_ADDRESS": str(self.signin_failures_per_address),
            "SIGNIN_LOCKOUT_SECONDS": str(max(1, round(self.signin_lockout_seconds))),
            "WIDGET_ORIGINS": ",".join(self.widget_origins),
            "DEMO_STORE": "1" if self.demo_store else "0",
            # Read by endpoints.yml:
            "ACTION_SERVER_URL": self.action_server_url,
            "NLG_URL": self.nlg_url,
            **self.rasa_tracker_environment(),
            # The action server (Sanic) listens on loopback only:
            "SANIC_HOST": "127.0.0.1",
        }
