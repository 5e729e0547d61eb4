"""The console in Firefox: Debian's firefox-esr (``scripts/services`` installs it), driven
headless over its own Marionette protocol (``marionette-driver``: Playwright's Firefox
is a patched build that cannot be downloaded here, and geckodriver is not packaged), so
that the pages are known to work in both browser engines the issue names. Sign-in is
refused with the wrong secret; signed in, every page draws. Screenshots go to
``test-artifacts/console/firefox-*.png``."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from typing import Any

import pytest

from tests.conftest import RunningServer, free_port
from tests.console.conftest import ARTIFACTS

FIREFOX = shutil.which("firefox-esr") or shutil.which("firefox")
PAGES = ("functions", "logs", "metrics", "service-map", "traces", "queues", "streams",
         "tables", "mappings", "apis")  # fmt: skip

try:
    from marionette_driver.by import By
    from marionette_driver.marionette import Marionette
except ImportError:  # pragma: no cover - the test extra installs it
    Marionette = None

pytestmark = [
    pytest.mark.skipif(Marionette is None, reason="needs marionette-driver (the test extra)"),
    pytest.mark.skipif(
        FIREFOX is None, reason="needs firefox (scripts/services installs Debian's firefox-esr)"
    ),
]


@pytest.fixture(scope="module")
def firefox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    assert FIREFOX is not None and Marionette is not None
    profile = tmp_path_factory.mktemp("firefox-profile")
    port = free_port()
    (profile / "user.js").write_text(f'user_pref("marionette.port", {port});\n')
    process = subprocess.Popen(
        [FIREFOX, "--headless", "--marionette", "--no-remote", "--profile", str(profile)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), 0.5).close()
                break
            except OSError:
                assert process.poll() is None, "firefox exited"
                assert time.monotonic() < deadline, "firefox's Marionette never listened"
                time.sleep(0.2)
        driver = Marionette(host="127.0.0.1", port=port)
        driver.start_session()
        driver.set_window_rect(width=1280, height=800)
        yield driver
        driver.delete_session()
    finally:
        process.terminate()
        process.wait(timeout=30)


def drawn(driver: Any, timeout: float = 15) -> None:
    """Wait until the page's script has drawn it (``main[data-ready]``)."""
    deadline = time.monotonic() + timeout
    while not driver.execute_script("return !!document.querySelector('main[data-ready]')"):
        assert time.monotonic() < deadline, driver.get_url()
        time.sleep(0.05)


def shot(driver: Any, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / f"firefox-{name}.png").write_bytes(driver.screenshot(format="binary"))


def sign_in(driver: Any, secret: str) -> None:
    driver.find_element(By.CSS_SELECTOR, "input[name=access_key_id]").send_keys("test")
    driver.find_element(By.CSS_SELECTOR, "input[name=secret_access_key]").send_keys(secret)
    driver.find_element(By.CSS_SELECTOR, "button[type=submit]").click()


def test_every_page_draws_in_firefox(firefox: Any, server: RunningServer) -> None:
    firefox.navigate(f"{server.endpoint}/_console/traces")
    assert "/_console/signin" in firefox.get_url()
    sign_in(firefox, "not-the-secret")
    deadline = time.monotonic() + 15
    while "Wrong access key id" not in firefox.execute_script("return document.body.textContent"):
        assert time.monotonic() < deadline, "the wrong secret was not refused"
        time.sleep(0.05)
    shot(firefox, "signin-refused")
    firefox.navigate(f"{server.endpoint}/_console/functions")
    sign_in(firefox, "test")
    drawn(firefox)
    for name in PAGES:
        firefox.navigate(f"{server.endpoint}/_console/{name}")
        drawn(firefox)
        heading = firefox.execute_script("return document.querySelector('main h1')?.textContent")
        assert heading, name
        problems = firefox.execute_script(
            "return [...document.querySelectorAll('.problem')].map(e => e.textContent)"
        )
        assert not problems, (name, problems)
        shot(firefox, name)
