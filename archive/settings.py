"""Settings for the protest archive, read from environment variables.

Every variable is listed in `.env.example`. A bad value stops start-up with one
clear line (SystemExit), never a traceback.
"""

import os
import secrets
from pathlib import Path
from urllib.parse import urlsplit

import dj_database_url

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = BASE_DIR / "var"


def _fail(message: str):
    raise SystemExit(f"archive settings: {message}")


def env_str(name: str, default: str) -> str:
    return os.environ.get(name, default).strip() or default


def env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None or not raw.strip():
        return default
    value = raw.strip().lower()
    if value in {"1", "true", "yes", "on"}:
        return True
    if value in {"0", "false", "no", "off"}:
        return False
    _fail(f"{name}={raw!r} is not a boolean (use 1/0, true/false, yes/no, on/off)")


def env_int(name: str, default: int, *, minimum: int, maximum: int) -> int:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    if not raw.isdigit() or not minimum <= int(raw) <= maximum:
        _fail(f"{name}={raw!r} is not a whole number from {minimum} to {maximum}")
    return int(raw)


def env_choice(name: str, default: str, choices: tuple[str, ...]) -> str:
    value = env_str(name, default).lower()
    if value not in choices:
        _fail(f"{name}={value!r}: choose one of {', '.join(choices)}")
    return value


def env_list(name: str, default: str) -> list[str]:
    return [item.strip() for item in env_str(name, default).split(",") if item.strip()]


def _resolve(path: str) -> Path:
    p = Path(path)
    return p if p.is_absolute() else BASE_DIR / p


def env_database(name: str, default: str) -> dict:
    return _database(name, env_str(name, default))


def env_replicas(name: str, primary: dict) -> dict:
    """Read replicas of a PostgreSQL primary (comma-separated URLs) as database aliases
    `replica1`, `replica2`...; in tests each stands for the primary's test database."""
    urls = env_list(name, "")
    if urls and not primary["ENGINE"].endswith("postgresql"):
        _fail(f"{name} needs a PostgreSQL primary: set DATABASE_URL=postgres://... too")
    replicas = {}
    for number, url in enumerate(urls, 1):
        if urlsplit(url).scheme == "sqlite":
            _fail(f"{name}: {url!r} is not a PostgreSQL URL")
        replicas[f"replica{number}"] = {**_database(name, url), "TEST": {"MIRROR": "default"}}
    return replicas


def _database(name: str, url: str) -> dict:
    scheme = urlsplit(url).scheme
    if scheme not in {"sqlite", "postgres", "postgresql", "pgsql"}:
        _fail(f"{name}={url!r}: use sqlite:///path or postgres://user@host:port/name")
    if scheme == "sqlite":
        rest = url[len("sqlite://") :]
        # sqlite:///var/db.sqlite3 is relative to the project; sqlite:////srv/db.sqlite3 absolute.
        path = rest[1:] if rest.startswith("//") else rest.lstrip("/")
        if not path:
            _fail(f"{name}={url!r}: give a file, e.g. sqlite:///var/archive.sqlite3")
        db_path = _resolve(path) if path != ":memory:" else path
        if isinstance(db_path, Path):
            try:
                db_path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                _fail(f"{name}: cannot create {db_path.parent}: {exc.strerror}")
        return {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": str(db_path),
            "OPTIONS": {
                # Wait for a concurrent writer instead of failing with "database is locked".
                "timeout": 30,
                "transaction_mode": "IMMEDIATE",
                "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
            },
            # Per process, so two test runs on one machine never share a database.
            "TEST": {"NAME": str(VAR_DIR / f"test-{os.getpid()}.sqlite3")},
        }
    try:
        config = dj_database_url.parse(url, conn_max_age=60, conn_health_checks=True)
    except ValueError as exc:
        _fail(f"{name}={url!r} is not a database URL ({exc})")
    if not config.get("NAME"):
        _fail(f"{name}={url!r}: name the database, e.g. postgres://postgres@127.0.0.1:5432/archive")
    # Per process, so two test runs against one server never share a test database.
    config["TEST"] = {"NAME": f"test_{config['NAME']}_{os.getpid()}"}
    return config


def env_writable_dir(name: str, default: str) -> Path:
    path = _resolve(env_str(name, default))
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        _fail(f"{name}={str(path)!r} cannot be created: {exc.strerror}")
    if not os.access(path, os.W_OK | os.X_OK):
        _fail(f"{name}={str(path)!r} is not writable")
    return path


def env_secret_key(name: str) -> str:
    value = os.environ.get(name, "").strip()
    if value:
        return value
    key_file = VAR_DIR / "secret_key"
    try:
        if key_file.exists():
            return key_file.read_text().strip()
        VAR_DIR.mkdir(parents=True, exist_ok=True)
        value = secrets.token_urlsafe(50)
        fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(value)
        return value
    except FileExistsError:
        return key_file.read_text().strip()
    except OSError as exc:
        _fail(f"{name} is not set and {key_file} cannot be written: {exc.strerror}")


SECRET_KEY = env_secret_key("SECRET_KEY")
DEBUG = env_bool("DEBUG", False)
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "127.0.0.1,localhost")
DATABASES = {"default": env_database("DATABASE_URL", "sqlite:///var/archive.sqlite3")}
# Anonymous readers' page views read a replica; everything else the primary (archive/routers.py).
DATABASES.update(env_replicas("DATABASE_REPLICA_URLS", DATABASES["default"]))
DATABASE_ROUTERS = ["archive.routers.ReplicaRouter"]
ARCHIVE_INDEX_DIR = env_writable_dir("ARCHIVE_INDEX_DIR", "var/index")
ARCHIVE_SEARCH_ENGINE = env_choice("ARCHIVE_SEARCH_ENGINE", "whoosh", ("whoosh", "postgres"))
if ARCHIVE_SEARCH_ENGINE == "postgres" and not DATABASES["default"]["ENGINE"].endswith("postgresql"):
    _fail("ARCHIVE_SEARCH_ENGINE=postgres needs a PostgreSQL database: set DATABASE_URL=postgres://...")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django.contrib.sitemaps",
    "django_filters",
    "simple_history",
    "axes",
    "articles",
    # The PostgreSQL engine's tables (its migration does nothing on other databases).
    "articles.search.postgres",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "archive.middleware.LongRequestMiddleware",
    "archive.routers.ReplicaReadsMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "simple_history.middleware.HistoryRequestMiddleware",
    # Last, as django-axes asks: it turns a lockout into its response.
    "axes.middleware.AxesMiddleware",
]

AUTHENTICATION_BACKENDS = [
    # Counts failed logins and locks out after AXES_FAILURE_LIMIT of them.
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = 5
AXES_COOLOFF_TIME = 1  # hour
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "admin/locked_out.html"
AXES_VERBOSE = False
# Lockouts are keyed on the reader's own address, also behind TRUSTED_PROXIES proxies.
AXES_CLIENT_IP_CALLABLE = "archive.proxy.client_ip"

ROOT_URLCONF = "archive.urls"
WSGI_APPLICATION = "archive.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-gb"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = VAR_DIR / "static"
STATIC_ROOT.mkdir(parents=True, exist_ok=True)
# Serve straight from static/ so `make run` needs no collectstatic step.
WHITENOISE_USE_FINDERS = True

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
FIXTURE_DIRS = [BASE_DIR / "fixtures"]

# --- Behind a TLS-terminating proxy, and HTTPS ----------------------------------------------
# TRUSTED_PROXIES: how many reverse proxies stand between readers and the archive, each
# appending the address it saw to X-Forwarded-For and setting X-Forwarded-Proto. With 0 (the
# default) those headers are ignored: anyone can send them.
TRUSTED_PROXIES = env_int("TRUSTED_PROXIES", 0, minimum=0, maximum=5)
if TRUSTED_PROXIES:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
# HTTPS: the archive is served over HTTPS only: redirect, secure cookies, HSTS.
HTTPS = env_bool("HTTPS", False)
if HTTPS:
    SECURE_SSL_REDIRECT = True
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = env_int("HSTS_SECONDS", 31_536_000, minimum=0, maximum=63_072_000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("HSTS_INCLUDE_SUBDOMAINS", True)
    SECURE_HSTS_PRELOAD = env_bool("HSTS_PRELOAD", True)

# Content-Security-Policy (django-csp): everything from the archive itself, no inline script
# or style, no framing. Pages carry no script at all; the admin's are files.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "font-src": ["'self'"],
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'none'"],
        "frame-ancestors": ["'none'"],
        "form-action": ["'self'"],
    },
}

SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = True
# Search URLs can carry many repeated filters; keep Django's limit but make it explicit.
DATA_UPLOAD_MAX_NUMBER_FIELDS = 1000
# A report's text may hold up to a million characters (up to 4 MB in UTF-8): requests up to
# 16 MB reach the form, which says what is too long and keeps the curator's edit.
DATA_UPLOAD_MAX_MEMORY_SIZE = 16 * 1024 * 1024
#: Longer query strings are answered 414 by the archive itself (gunicorn lets them through:
#: archive/gunicorn.conf.py).
MAX_QUERY_STRING = 32 * 1024

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": "WARNING"},
    "loggers": {"articles": {"handlers": ["console"], "level": "INFO", "propagate": False}},
}
