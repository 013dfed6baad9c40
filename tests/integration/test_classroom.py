"""``lync-restore serve``, the classroom, as a trainee's browser meets it: the real command in a
subprocess, reached over HTTP and a websocket on 127.0.0.1.

On loopback it answers at once with textual-serve's app page, refuses a Host header that is not a
loopback name (DNS rebinding) and a websocket from another origin, and stops cleanly on SIGINT.
Off loopback it is refused without a token before it binds; with one (from the environment),
every request needs the cookie the token form sets: no cookie, the form; a wrong token, 403 and
the form; the right one, the app page. Its websocket starts a drill (``lync-restore drill``, its
own wizard process, which never sees the token); SIGINT with the drill open stops both, and the
drill's lab with them. The token appears in none of the server's output."""

from __future__ import annotations

import asyncio
import contextlib
import http.client
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]

REPO = Path(__file__).resolve().parents[2]
APP_MARKER = 'class="textual-terminal"'  # textual-serve's app page: the terminal the websocket fills
FORM_MARKER = 'name="token"'


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def port_is_free(port: int) -> bool:
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("0.0.0.0", port))
        except OSError:
            return False
        return True


def request(port: int, method: str = "GET", path: str = "/", *, body: str | None = None,
            headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], str]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        resp = conn.getresponse()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read().decode()
    finally:
        conn.close()


class Served:
    """``python -m wizard serve`` as a subprocess, with its own journal folder."""

    def __init__(self, tmp: Path, *args: str, env: dict[str, str] | None = None) -> None:
        self.port = free_port()
        self.journals = tmp / "journals"
        self.started = time.monotonic()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "wizard", "--journal-dir", str(self.journals), "serve",
             "--port", str(self.port), *args],
            cwd=REPO, env={**os.environ, **(env or {})}, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.out = self.err = ""

    def wait_answering(self, timeout: float = 30.0) -> float:
        """Seconds from the start until the port answered an HTTP request."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, f"serve exited {self.proc.returncode}: {self.proc.communicate()}"
            try:
                request(self.port)
            except OSError:
                time.sleep(0.05)
                continue
            return time.monotonic() - self.started
        raise AssertionError(f"serve did not answer on port {self.port} within {timeout} s")

    def stop(self, sig: int = signal.SIGINT, timeout: float = 30.0) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        self.out, self.err = self.proc.communicate(timeout=timeout)
        return self.proc.returncode

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.communicate()


@pytest.fixture
def served(tmp_path: Path) -> Iterator[list[Served]]:
    started: list[Served] = []
    yield started
    for s in started:
        s.kill()
        from lab.attach import stop_labs

        stop_labs(s.journals, None)


def descendants(pid: int) -> list[tuple[int, str]]:
    """(pid, command line) of every process below ``pid``."""
    found: list[tuple[int, str]] = []
    todo = [pid]
    while todo:
        parent = todo.pop()
        try:
            children = Path(f"/proc/{parent}/task/{parent}/children").read_text().split()
        except OSError:
            continue
        for child in map(int, children):
            try:
                cmd = Path(f"/proc/{child}/cmdline").read_bytes().replace(b"\0", b" ").decode()
            except OSError:
                continue
            found.append((child, cmd))
            todo.append(child)
    return found


def running(processes: list[tuple[int, str]]) -> list[int]:
    """Those of ``processes`` still running (a zombie has finished)."""
    alive = []
    for pid, _ in processes:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except (OSError, IndexError):
            continue
        if state != "Z":
            alive.append(pid)
    return alive


def keepers_of(journals: Path) -> list[int]:
    """Lab keepers whose folder is under ``journals``."""
    pids = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmd = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if "lab.keeper" in cmd and str(journals) in cmd:
            pids.append(int(proc.name))
    return pids


def test_serve_answers_on_loopback_with_textual_serves_app_page(tmp_path: Path, served: list[Served]) -> None:
    s = Served(tmp_path)
    served.append(s)
    took = s.wait_answering()
    print(f"first HTTP answer after {took:.2f} s")

    status, _, page = request(s.port)
    assert status == 200
    assert APP_MARKER in page and "textual.js" in page
    assert f'data-session-websocket-url="ws://127.0.0.1:{s.port}/ws/cms-lost-paired"' in page
    assert FORM_MARKER not in page  # loopback: no token asked
    status, _, page = request(s.port, path="/?scenario=fe-lost")
    assert status == 200 and "/ws/fe-lost" in page
    for name in ("x%3Bid", "..%2Fx", "-x", "a%20b"):  # only a scenario's name reaches the drill's command line
        assert request(s.port, path=f"/?scenario={name}")[0] == 404, name
    # a page whose name was rebound to 127.0.0.1 (DNS rebinding) sends its own name as Host
    assert request(s.port, headers={"Host": f"attacker.example:{s.port}"})[0] == 400
    assert request(s.port, headers={"Host": f"localhost:{s.port}"})[0] == 200

    async def foreign_origin() -> int:
        async with aiohttp.ClientSession() as http_session:
            try:
                async with http_session.ws_connect(f"http://127.0.0.1:{s.port}/ws/cms-lost-paired",
                                                   headers={"Origin": "http://attacker.example"}):
                    return 101
            except aiohttp.WSServerHandshakeError as err:
                return err.status

    assert asyncio.run(foreign_origin()) == 403
    assert not [c for _, c in descendants(s.proc.pid) if " drill " in c]  # nothing was spawned

    assert s.stop() == 0
    assert f"http://127.0.0.1:{s.port}/" in s.out
    assert "SSH tunnel" in s.out
    assert "Traceback" not in s.err
    assert port_is_free(s.port)


def test_a_non_loopback_bind_without_a_token_is_refused_before_binding(tmp_path: Path,
                                                                       served: list[Served]) -> None:
    env = {k: v for k, v in os.environ.items() if k != "LYNC_RESTORE_SERVE_TOKEN"}
    port = free_port()
    proc = subprocess.run([sys.executable, "-m", "wizard", "serve", "--host", "0.0.0.0", "--port", str(port)],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=30)
    assert proc.returncode == 2
    assert proc.stderr == ("lync-restore: Serving on 0.0.0.0 needs an access token (--token or "
                           "LYNC_RESTORE_SERVE_TOKEN), since textual-serve has no authentication of its own; "
                           "or keep the default 127.0.0.1 and reach it through an SSH tunnel.\n")
    assert proc.stdout == ""  # never said it was serving
    assert port_is_free(port)

    short = subprocess.run([sys.executable, "-m", "wizard", "serve", "--host", "0.0.0.0", "--port", str(port)],
                           cwd=REPO, env={**env, "LYNC_RESTORE_SERVE_TOKEN": "short-token"},
                           capture_output=True, text=True, timeout=30)
    assert short.returncode == 2 and "at least 16 characters" in short.stderr
    assert "short-token" not in short.stderr + short.stdout


def test_the_token_guards_every_request_and_the_websocket_starts_a_drill(tmp_path: Path,
                                                                         served: list[Served]) -> None:
    token = secrets.token_urlsafe(24)
    s = Served(tmp_path, "--host", "0.0.0.0", "--scenario", "fe-lost", env={"LYNC_RESTORE_SERVE_TOKEN": token})
    served.append(s)
    s.wait_answering()

    status, headers, page = request(s.port)
    assert status == 403 and FORM_MARKER in page and APP_MARKER not in page
    assert "set-cookie" not in headers
    assert request(s.port, path="/static/js/textual.js")[0] == 403

    form = {"Content-Type": "application/x-www-form-urlencoded"}
    wrong = token[:-1] + ("A" if token[-1] != "A" else "B")  # one character off
    status, headers, page = request(s.port, "POST", "/login", body=f"token={wrong}&next=/", headers=form)
    assert status == 403 and FORM_MARKER in page and "not the classroom's token" in page
    assert "set-cookie" not in headers

    status, headers, _ = request(s.port, "POST", "/login", body=f"token={token}&next=/", headers=form)
    assert status == 303 and headers["location"] == "/"
    cookie_header = headers["set-cookie"]
    assert cookie_header.startswith("lync_restore_classroom=")
    assert "HttpOnly" in cookie_header and "SameSite=Strict" in cookie_header
    cookie = cookie_header.split(";", 1)[0]
    assert token not in cookie  # the cookie holds a key of this run, not the token

    status, _, page = request(s.port, headers={"Cookie": cookie})
    assert status == 200 and APP_MARKER in page and FORM_MARKER not in page
    assert f"ws://127.0.0.1:{s.port}/ws/fe-lost" in page
    assert request(s.port, headers={"Cookie": "lync_restore_classroom=guessed"})[0] == 403

    url = f"http://127.0.0.1:{s.port}/ws/fe-lost?width=80&height=24"

    async def handshake(headers: dict[str, str]) -> int:
        async with aiohttp.ClientSession() as http_session:
            try:
                async with http_session.ws_connect(url, headers=headers):
                    return 101
            except aiohttp.WSServerHandshakeError as err:
                return err.status

    assert asyncio.run(handshake({})) == 403
    assert asyncio.run(handshake({"Cookie": cookie, "Origin": "http://attacker.example"})) == 403
    assert not [c for _, c in descendants(s.proc.pid) if " drill " in c]

    async def drill_then_stop() -> tuple[list[tuple[int, str]], list[bytes], bytes]:
        async with aiohttp.ClientSession() as http_session, http_session.ws_connect(
                url, headers={"Cookie": cookie, "Origin": f"http://127.0.0.1:{s.port}"}) as ws:
            screen = b""
            while b"Incident" not in screen and len(screen) < 200_000:  # the start screen's form
                msg = await asyncio.wait_for(ws.receive(), 30)
                assert msg.type == aiohttp.WSMsgType.BINARY, msg
                screen += msg.data
            wizards = [(pid, c) for pid, c in descendants(s.proc.pid) if "-m wizard" in c and " drill " in c]
            environs = [Path(f"/proc/{pid}/environ").read_bytes() for pid, _ in wizards]
            s.proc.send_signal(signal.SIGINT)  # the classroom stops with a drill open
            closed = await asyncio.wait_for(ws.receive(), 30)
            while closed.type == aiohttp.WSMsgType.BINARY:  # the last frames, until the socket closes
                closed = await asyncio.wait_for(ws.receive(), 30)
            assert closed.type in {aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.CLOSING}
            return wizards, environs, screen

    wizards, environs, screen = asyncio.run(drill_then_stop())
    assert wizards, "no wizard process was started for the websocket"
    assert any("--scenario fe-lost" in c for _, c in wizards)
    assert all(b"TEXTUAL_DRIVER=textual.drivers.web_driver:WebDriver" in e for e in environs)
    assert not any(token.encode() in e for e in environs), "a wizard inherited the token"
    assert b"Incident" in screen

    assert s.stop() == 0
    # the wizard was asked to quit; it closes its side of the pipe, then stops its lab (no incident used it)
    deadline = time.monotonic() + 20
    while (running(wizards) or keepers_of(s.journals)) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert running(wizards) == [], "a drill outlived the classroom"
    assert keepers_of(s.journals) == [], "the drill's lab (no incident used it) outlived the classroom"
    assert token not in s.out + s.err
    assert "session 1: drill fe-lost" in s.out and "session 1 ended" in s.out


def test_a_closed_tab_is_journaled_as_a_lost_terminal_and_its_incident_resumable(
        tmp_path: Path, served: list[Served]) -> None:
    """A trainee starts an incident in the browser (Ctrl+S on the start screen) and closes the tab:
    the wizard is told as a lost terminal is, journals the interruption and leaves; the incident
    stays open, its lab kept for the resume."""
    from wizard.journal import Kind, read_journal

    s = Served(tmp_path)
    served.append(s)
    s.wait_answering()

    async def start_incident_then_close_tab() -> list[tuple[int, str]]:
        async with aiohttp.ClientSession() as http_session, http_session.ws_connect(
                f"http://127.0.0.1:{s.port}/ws/fe-lost?width=80&height=24") as ws:
            deadline = time.monotonic() + 60
            started = False
            while not started and time.monotonic() < deadline:
                await ws.send_json(["stdin", "\x13"])  # Ctrl+S: start the incident (once the plan is read)
                until = time.monotonic() + 2
                with contextlib.suppress(TimeoutError):  # the frames of the next 2 s (a clock ticks)
                    while (left := until - time.monotonic()) > 0:
                        msg = await asyncio.wait_for(ws.receive(), left)
                        assert msg.type == aiohttp.WSMsgType.BINARY, msg
                journals = list(s.journals.glob("*/journal.jsonl"))
                started = bool(journals) and any(
                    e.kind == Kind.STAGE for e in read_journal(journals[0]).entries)
            assert started, "no incident was started from the browser"
            return [(pid, c) for pid, c in descendants(s.proc.pid) if " drill " in c]
        # leaving the block closes the websocket: the tab is closed

    wizards = asyncio.run(start_incident_then_close_tab())
    assert wizards
    deadline = time.monotonic() + 30
    while running(wizards) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert running(wizards) == [], "the wizard of a closed tab kept running"
    (journal,) = s.journals.glob("*/journal.jsonl")
    entries = read_journal(journal).entries
    interrupted = [e for e in entries if e.kind == Kind.INTERRUPTED]
    assert interrupted and "SIGTERM" in interrupted[-1].payload["reason"], [e.kind for e in entries]
    assert not any(e.kind == Kind.CLOSED for e in entries)  # open: resumable with Ctrl+R
    assert keepers_of(s.journals), "the incident's lab should wait for the resume"
    assert s.stop() == 0
