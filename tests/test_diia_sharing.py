"""Sharing against the sandbox: document-request, offer-request, their status calls, the
stand-in delivery to the partner's endpoint, and the Diia client's calls for them."""

from __future__ import annotations

import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest

from kiosk.diia.client import DiiaClient
from kiosk.diia.errors import CodeExpired, CodeNotFound, CodeUsed
from kiosk.diia.sandbox import DiiaSandbox
from kiosk.model import Code, CodeKind


def client_for(sandbox: DiiaSandbox) -> DiiaClient:
    return DiiaClient(sandbox.base_url, sandbox.credentials, sandbox.branch_id, timeout_s=2)


def barcode(text: str) -> Code:
    return Code(text, CodeKind.BARCODE, "typed")


def wait_status(poll: Any, want: str, timeout_s: float = 5) -> str:
    deadline = time.monotonic() + timeout_s
    status = poll()
    while status != want and time.monotonic() < deadline:
        time.sleep(0.05)
        status = poll()
    return status


class Receiver:
    """The partner's back-office endpoint: records what Diia (the sandbox) delivers."""

    def __init__(self) -> None:
        received = self.received = []

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                received.append((dict(self.headers), body))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/diia/delivery"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def test_a_confirmed_document_request_is_delivered_with_its_trace_id(
    sandbox: DiiaSandbox,
) -> None:
    receiver = Receiver()
    try:
        sandbox.share.set_policy("confirm", after_s=0.2, deliver_to=receiver.url)
        code, request_id = barcode(sandbox.mint("valid")), str(uuid.uuid4())
        with client_for(sandbox) as diia:
            assert diia.request_document(code, request_id) is True
            assert diia.document_request_status(code, request_id) == "pending"
            poll = lambda: diia.document_request_status(code, request_id)  # noqa: E731
            assert wait_status(poll, "confirmed") == "confirmed"
            with pytest.raises(CodeUsed):  # the share used the code up
                diia.validate(code)
        deadline = time.monotonic() + 5
        while not receiver.received and time.monotonic() < deadline:
            time.sleep(0.02)
    finally:
        receiver.close()
    headers, body = receiver.received[0]
    assert headers["X-Document-Request-Trace-Id"] == request_id
    assert headers["Content-Type"].startswith("multipart/form-data; boundary=")
    for part in (b'name="encryptedFile"', b'name="encryptedFileName"', b'name="encodeData"'):
        assert part in body
    admin = httpx.get(f"{sandbox.base_url}/sandbox/shares").json()
    assert admin["deliveries"][0]["request_id"] == request_id
    assert admin["deliveries"][0]["status"] == 200


def test_a_refused_or_ignored_share_says_so(sandbox: DiiaSandbox) -> None:
    with client_for(sandbox) as diia:
        sandbox.share.set_policy("refuse", after_s=0)
        code, request_id = barcode(sandbox.mint("valid")), str(uuid.uuid4())
        diia.request_document(code, request_id)
        assert diia.document_request_status(code, request_id) == "refused"
        sandbox.share.set_policy("ignore")
        code, request_id = barcode(sandbox.mint("valid")), str(uuid.uuid4())
        diia.request_document(code, request_id)
        assert diia.document_request_status(code, request_id) == "pending"


def test_a_document_request_for_a_bad_code_is_refused_as_a_check_would_be(
    sandbox: DiiaSandbox,
) -> None:
    with client_for(sandbox) as diia:
        with pytest.raises(CodeExpired):
            diia.request_document(barcode(sandbox.mint("expired")), str(uuid.uuid4()))
        with pytest.raises(CodeUsed):
            diia.request_document(barcode(sandbox.mint("used")), str(uuid.uuid4()))
        with pytest.raises(CodeNotFound):
            diia.request_document(barcode("4006381333931"), str(uuid.uuid4()))
        assert diia.request_document(barcode(sandbox.mint("not_valid")),
                                     str(uuid.uuid4())) is False
        with pytest.raises(CodeNotFound):  # a status for a request never made
            diia.document_request_status(barcode(sandbox.mint("valid")), str(uuid.uuid4()))


def test_an_offer_gives_a_deeplink_whose_status_can_be_polled(sandbox: DiiaSandbox) -> None:
    sandbox.share.set_policy("confirm", after_s=0.2)
    request_id = str(uuid.uuid4())
    with client_for(sandbox) as diia:
        deeplink = diia.offer_request("offer-1", request_id, return_link="https://shop.example")
        assert deeplink.startswith("https://diia.app/acquirers/offer-request/dynamic/")
        otp = deeplink.split("/")[-2]
        assert diia.offer_request_status(otp, request_id) == "pending"
        poll = lambda: diia.offer_request_status(otp, request_id)  # noqa: E731
        assert wait_status(poll, "confirmed") == "confirmed"
    body = [r.body for r in sandbox.requests if r.body][-1]
    assert body == {"offerId": "offer-1", "requestId": request_id,
                    "returnLink": "https://shop.example"}


def test_the_sharing_calls_need_a_session_token_and_a_good_body(sandbox: DiiaSandbox) -> None:
    base = sandbox.base_url
    assert httpx.post(f"{base}/api/v1/acquirers/document-request", json={}).status_code == 401
    with client_for(sandbox) as diia:
        diia.login()
        token = diia._session.get(time.monotonic() + 2)
    auth = {"Authorization": f"Bearer {token}"}
    answer = httpx.post(f"{base}/api/v1/acquirers/document-request", headers=auth,
                        json={"branchId": sandbox.branch_id, "barcode": sandbox.mint()})
    assert answer.status_code == 422
    assert answer.json()["data"]["errors"][0]["field"] == "requestId"


def test_the_share_policy_is_set_over_the_admin_api(sandbox: DiiaSandbox) -> None:
    url = f"{sandbox.base_url}/sandbox/share"
    ok = httpx.post(url, json={"answer": "refuse", "after_s": 2})
    assert ok.json() == {"answer": "refuse", "after_s": 2.0, "deliver_to": None}
    assert httpx.post(url, json={"answer": "maybe"}).status_code == 400
    assert httpx.post(url, json={"deliver_to": "ftp://x"}).status_code == 400
    assert httpx.post(url, json={"colour": 1}).status_code == 400
