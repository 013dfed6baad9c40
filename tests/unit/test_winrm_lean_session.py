"""The runner's lean requests session prepares exactly what requests itself would prepare.

No request is sent: the runner's transport builds its session (nothing goes on the wire for
Basic, or NTLM over HTTPS, until the first message), and each prepared request is compared with
``requests.Session.prepare_request``'s own for the same input.
"""

from __future__ import annotations

import requests

from wizard.remote.winrm import PowerShellRunner, WinRMEndpoint, _LeanSession

BODY = b'<?xml version="1.0" encoding="utf-8"?>\n<env:Envelope/>'


def _session(auth: str, scheme: str) -> requests.Session:
    endpoint = WinRMEndpoint("fe01.contoso.com", address="127.0.0.1", port=1,
                             scheme=scheme, auth=auth, insecure=scheme == "http")  # type: ignore[arg-type]
    runner = PowerShellRunner(endpoint, "CONTOSO\\u", "pw")
    session = runner._protocol.transport.build_session()
    assert session is runner._protocol.transport.build_session()  # built once, then reused
    return session


def _both(session: requests.Session, request: requests.Request) -> tuple[
        requests.PreparedRequest, requests.PreparedRequest]:
    return session.prepare_request(request), requests.Session.prepare_request(session, request)


def _same(ours: requests.PreparedRequest, theirs: requests.PreparedRequest) -> None:
    assert (ours.method, ours.url, ours.body) == (theirs.method, theirs.url, theirs.body)
    assert dict(ours.headers) == dict(theirs.headers)
    assert {k: len(v) for k, v in ours.hooks.items()} == {
        k: len(v) for k, v in theirs.hooks.items()}


def test_basic_over_http_prepares_as_requests_does() -> None:
    session = _session("basic", "http")
    assert isinstance(session, _LeanSession) and session.trust_env is False
    for _ in range(2):  # the second one comes from the cached URL
        ours, theirs = _both(session, requests.Request(
            "POST", "http://127.0.0.1:1/wsman", data=BODY))
        _same(ours, theirs)
    assert ours.headers["Authorization"].startswith("Basic ")
    assert ours.headers["Content-Length"] == str(len(BODY))


def test_ntlm_registers_its_response_hook_on_every_request() -> None:
    session = _session("ntlm", "https")
    ours, theirs = _both(session, requests.Request(
        "POST", "https://127.0.0.1:1/wsman", data=BODY))
    _same(ours, theirs)
    assert len(ours.hooks["response"]) == 1
    assert ours.headers["Connection"] == "Keep-Alive"


def test_anything_unusual_takes_the_ordinary_path() -> None:
    session = _session("basic", "http")
    with_header = requests.Request("POST", "http://127.0.0.1:1/wsman", data=BODY,
                                   headers={"X-Extra": "1"})
    _same(*_both(session, with_header))
    assert session.prepare_request(with_header).headers["X-Extra"] == "1"
    session.cookies.set("s", "v", domain="127.0.0.1", path="/")
    with_cookie = session.prepare_request(
        requests.Request("POST", "http://127.0.0.1:1/wsman", data=BODY))
    assert with_cookie.headers["Cookie"] == "s=v"
