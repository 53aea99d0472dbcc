"""Production settings, proxies, the Content-Security-Policy and long URLs, as a deployment
meets them."""

import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest
from django.test import override_settings

from . import factories as f
from .conftest import ROOT, manage, subprocess_env

PRODUCTION = {
    "SECRET_KEY": "x" * 20 + "production-secret-key-of-enough-length-42",
    "DEBUG": "0",
    "ALLOWED_HOSTS": "archive.example.org",
    "HTTPS": "1",
    "TRUSTED_PROXIES": "1",
}


def clean_env(**extra) -> dict:
    # (DJANGO_ALLOW_ASYNC_UNSAFE is the browser tests' own, never a deployment's.)
    env = {
        k: v
        for k, v in os.environ.items()
        if k
        not in (
            "DATABASE_URL",
            "ARCHIVE_INDEX_DIR",
            "ARCHIVE_SEARCH_ENGINE",
            "HTTPS",
            "TRUSTED_PROXIES",
            "DJANGO_ALLOW_ASYNC_UNSAFE",
        )
    }
    return {**env, **extra}


def test_deploy_checks_are_clean_with_production_settings(tmp_path):
    result = manage(
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
        env=clean_env(DATABASE_URL=f"sqlite:///{tmp_path}/db.sqlite3", **PRODUCTION),
    )
    assert result.returncode == 0, result.stdout + result.stderr
    # Without HTTPS the same check names what is missing.
    result = manage(
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
        env=clean_env(DATABASE_URL=f"sqlite:///{tmp_path}/db.sqlite3", **{**PRODUCTION, "HTTPS": "0"}),
    )
    assert result.returncode == 1 and "SECURE_SSL_REDIRECT" in result.stderr + result.stdout


def settings_in_child(**env) -> dict:
    code = (
        "import django, json; django.setup(); from django.conf import settings as s; "
        "print(json.dumps({k: getattr(s, k, None) for k in ('SECURE_PROXY_SSL_HEADER', "
        "'SECURE_HSTS_SECONDS', 'SESSION_COOKIE_SECURE', 'CSRF_COOKIE_SECURE', "
        "'SECURE_SSL_REDIRECT', 'TRUSTED_PROXIES')}))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env=clean_env(DJANGO_SETTINGS_MODULE="archive.settings", SECRET_KEY="t", **env),
    )
    assert result.returncode == 0, result.stderr
    import json

    return json.loads(result.stdout)


def test_proxy_and_https_settings_come_from_the_environment():
    assert settings_in_child() == {
        "SECURE_PROXY_SSL_HEADER": None,
        "SECURE_HSTS_SECONDS": 0,
        "SESSION_COOKIE_SECURE": False,
        "CSRF_COOKIE_SECURE": False,
        "SECURE_SSL_REDIRECT": False,
        "TRUSTED_PROXIES": 0,
    }
    assert settings_in_child(HTTPS="1", TRUSTED_PROXIES="2") == {
        "SECURE_PROXY_SSL_HEADER": ["HTTP_X_FORWARDED_PROTO", "https"],
        "SECURE_HSTS_SECONDS": 31536000,
        "SESSION_COOKIE_SECURE": True,
        "CSRF_COOKIE_SECURE": True,
        "SECURE_SSL_REDIRECT": True,
        "TRUSTED_PROXIES": 2,
    }
    result = manage("check", env=clean_env(TRUSTED_PROXIES="many", SECRET_KEY="t"))
    assert result.returncode == 1
    assert result.stderr.strip() == (
        "archive settings: TRUSTED_PROXIES='many' is not a whole number from 0 to 5"
    )


def test_behind_the_proxy_https_is_recognised(client, db):
    with override_settings(
        SECURE_PROXY_SSL_HEADER=("HTTP_X_FORWARDED_PROTO", "https"),
        SECURE_HSTS_SECONDS=31536000,
        SECURE_SSL_REDIRECT=True,
    ):
        assert client.get("/").status_code == 301  # plain HTTP: redirected
        response = client.get("/", HTTP_X_FORWARDED_PROTO="https")
        assert response.status_code == 200
        assert response["Strict-Transport-Security"].startswith("max-age=31536000")


def test_every_page_carries_a_policy_without_inline_code(client, db):
    for url in ("/", "/search/", "/api/search/", "/admin/login/", "/no/such/page/"):
        policy = client.get(url)["Content-Security-Policy"]
        assert "default-src 'self'" in policy and "script-src 'self'" in policy, url
        assert "style-src 'self'" in policy and "frame-ancestors 'none'" in policy, url
        assert "unsafe-inline" not in policy and "unsafe-eval" not in policy, url


def login_failures(client, address_header: dict, n: int):
    for _ in range(n):
        client.post("/admin/login/", {"username": "cora", "password": "wrong"}, **address_header)


@pytest.mark.django_db
def test_lockouts_behind_a_proxy_follow_the_reader_not_the_proxy(client):
    from django.contrib.auth.models import User

    User.objects.create_user("cora", password="correct-horse-battery-staple-42", is_staff=True)
    with override_settings(TRUSTED_PROXIES=1):
        # An attacker's five failures, through the proxy (one connecting address for all).
        login_failures(client, {"HTTP_X_FORWARDED_FOR": "203.0.113.66"}, 5)
        # The curator, from her own address through the same proxy, still signs in...
        response = client.post(
            "/admin/login/",
            {"username": "cora", "password": "correct-horse-battery-staple-42"},
            HTTP_X_FORWARDED_FOR="198.51.100.7",
        )
        assert response.status_code == 302
        client.logout()
        # ...and a forged X-Forwarded-For entry does not move the attacker elsewhere.
        response = client.post(
            "/admin/login/",
            {"username": "cora", "password": "wrong"},
            HTTP_X_FORWARDED_FOR="198.51.100.7, 203.0.113.66",
        )
        assert response.status_code == 429


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_a_long_search_url_is_answered_by_the_archive(index):
    """Served as `make run` serves it: gunicorn with archive/gunicorn.conf.py."""
    f.article("Rally", "Workers rallied.", cities=[f.city("Almaty")])
    port = free_port()
    server = subprocess.Popen(
        [
            str(ROOT / ".venv" / "bin" / "gunicorn"),
            "archive.wsgi:application",
            "-c",
            "archive/gunicorn.conf.py",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            "1",
        ],
        cwd=ROOT,
        env={**subprocess_env(index), "SECRET_KEY": "t"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        for _ in range(100):
            try:
                urllib.request.urlopen(base + "/api/search/", timeout=5)
                break
            except OSError:
                time.sleep(0.1)
        # 8 KB of repeated filters: longer than gunicorn's default 4 KB request line.
        long_ok = "/search/?" + "&".join(["city=almaty"] * 700)
        assert urllib.request.urlopen(base + long_ok, timeout=10).status == 200
        too_long = "/search/?q=" + "a" * 40_000
        with pytest.raises(urllib.error.HTTPError) as answer:
            urllib.request.urlopen(base + too_long, timeout=10)
        assert answer.value.code == 414
        page = answer.value.read().decode()
        assert "This address is too long" in page and "Protest Archive" in page
        with pytest.raises(urllib.error.HTTPError) as answer:
            urllib.request.urlopen(base + "/api/search/?q=" + "a" * 40_000, timeout=10)
        assert answer.value.code == 414 and b'"query_string"' in answer.value.read()
    finally:
        server.terminate()
        server.wait(timeout=10)
