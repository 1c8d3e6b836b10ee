"""A hostile "department": XXE and billion-laughs answers are refused by the hub without expansion,
even when the answer is properly signed (the parser, not the signature, is the last line)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from lianban.app.config import connection_json
from lianban.app.registry import load_connector
from lianban.crypto.hashing import sm3_hex
from lianban.crypto.suites import get_suite
from lianban.domain.schemas import schema_path
from lianban.errors import FatalError, LianbanError
from lianban.keys import keysets
from lianban.keys.provision import ensure_keys
from lianban.wire.settings import parse_connection
from lianban.wire.signatures import HEADER, sign

SECRET_FILE_MARKER = "root:x:0:0"
XXE = b"""<?xml version="1.0"?>
<!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]>
<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body>
<m:PingResponse xmlns:m="http://ybj.bozhou.gov.cn/lianban/medical/v1"><m:status>&x;</m:status></m:PingResponse>
</soap:Body></soap:Envelope>"""
LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
<!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
<!ENTITY lol9 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">]>
<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body>
<m:PingResponse xmlns:m="http://ybj.bozhou.gov.cn/lianban/medical/v1"><m:status>&lol9;</m:status></m:PingResponse>
</soap:Body></soap:Envelope>"""


def _hostile(keys_dir: Path, answer: bytes) -> type[BaseHTTPRequestHandler]:
    signing = keysets.load(keys_dir, "medical-signing")
    kid, private = signing.active_private()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            request = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            self.send_response(200)
            self.send_header("Content-Type", "text/xml; charset=utf-8")
            self.send_header("Content-Length", str(len(answer)))
            self.send_header(HEADER, sign(get_suite("SM"), kid, private, 200, self.path.split("?")[0], answer,
                                          sm3_hex(request)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, *args: object) -> None:
            pass

    return Handler


@pytest.fixture(params=[XXE, LAUGHS], ids=["xxe", "billion-laughs"])
def hostile_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, Path]]:
    ensure_keys(tmp_path)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _hostile(tmp_path, request.param))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", tmp_path
    server.shutdown()


def test_entity_answers_are_refused_without_expansion(hostile_url: tuple[str, Path]) -> None:
    url, keys_dir = hostile_url
    wsdl = str(schema_path("medical", "medical.wsdl"))
    settings = parse_connection("medical", connection_json(url, "u", "p", wsdl=wsdl))
    connector = load_connector("medical", settings, keys_dir)
    report = connector.health()
    assert not report.ok and "DTD" in report.detail
    with pytest.raises(LianbanError) as refused:
        connector.poll(["any-key"])
    assert isinstance(refused.value, FatalError)
    assert SECRET_FILE_MARKER not in str(refused.value) and "lollol" not in str(refused.value)
