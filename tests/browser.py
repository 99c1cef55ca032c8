"""A real headless browser for the tests: Debian's ``chromium`` driven by its ``chromedriver``
through the W3C WebDriver protocol (plain HTTP on a loopback port, no client library), with
chromium's console and network logs (``goog:loggingPrefs``).

``available()`` says why not where either program is missing (``apt-get install chromium
chromium-driver``); nothing is installed at run time."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ARGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
        "--disable-background-networking", "--disable-component-update", "--no-first-run"]


def available() -> str | None:
    """None when a browser can run here, else why not."""
    missing = [p for p in ("chromium", "chromedriver") if shutil.which(p) is None]
    return (f"no {' or '.join(missing)} on PATH (Debian: apt-get install chromium "
            "chromium-driver)") if missing else None


@dataclass
class Page:
    """What the browser saw of one page."""

    title: str
    console: list[dict[str, Any]]
    requests: list[str]
    result: Any


@contextmanager
def browser() -> Iterator[Any]:
    """A chromedriver session; yields ``open(path, script) -> Page``."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    driver = subprocess.Popen(["chromedriver", f"--port={port}"], stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"

    def call(method: str, path: str, body: object = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(base + path, data=data, method=method,
                                         headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=60) as answer:
            return json.loads(answer.read())["value"]

    try:
        for _ in range(400):  # chromedriver listens within a second or so
            try:
                call("GET", "/status")
                break
            except OSError:
                time.sleep(0.025)
        caps = {"browserName": "chrome",
                "goog:chromeOptions": {"binary": shutil.which("chromium"), "args": ARGS},
                "goog:loggingPrefs": {"browser": "ALL", "performance": "ALL"}}
        session = call("POST", "/session", {"capabilities": {"alwaysMatch": caps}})["sessionId"]

        def open_page(path: Path, until: str = "true") -> Page:
            """Load ``path``, then wait (up to 20 s, polling) for the JavaScript expression
            ``until`` to be truthy, a sign that the page has drawn what it draws: its last
            value is the page's ``result``."""
            call("POST", f"/session/{session}/url", {"url": path.resolve().as_uri()})
            call("POST", f"/session/{session}/timeouts", {"script": 30_000})
            result = call("POST", f"/session/{session}/execute/async", {"args": [], "script": (
                "const done = arguments[arguments.length - 1]; const start = Date.now();"
                f"(function poll() {{ let value = null; try {{ value = ({until}); }}"
                " catch (e) {} if (value || Date.now() - start > 20000) { done(value); }"
                " else { setTimeout(poll, 50); } })();")})
            console = call("POST", f"/session/{session}/se/log", {"type": "browser"})
            events = [json.loads(e["message"])["message"] for e in
                      call("POST", f"/session/{session}/se/log", {"type": "performance"})]
            requests = [e["params"]["request"]["url"] for e in events
                        if e["method"] == "Network.requestWillBeSent"]
            return Page(call("GET", f"/session/{session}/title"), console, requests, result)

        try:
            yield open_page
        finally:
            call("DELETE", f"/session/{session}")
    finally:
        driver.terminate()
        driver.wait(timeout=30)
