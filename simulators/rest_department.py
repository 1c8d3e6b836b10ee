"""A simulated REST department (health, housing_fund): the shared engine behind a signed JSON gateway.

Routes (documented in ``schemas/<department>/openapi.yaml``; FastAPI also serves ``/openapi.json``)::

    POST /api/v1/cases:batch    {"batch_id", "seal", "items": [{idempotency_key, case_no, item_code, envelope}]}
                                → {"batch_id", "receipts": [{idempotency_key, accepted, duplicate, ref, code,
                                reason}]} (batch_id: the one answered);
                                a batch whose seal fails, or whose batch_id is not its seal's → 400
                                {"code": "BATCH_<CODE>", "message"}
    POST /api/v1/cases:status   {"keys": [...], "page": 1, "page_size": 100}
                                → {"statuses": [{idempotency_key, code, reason, changed_at, materials, result}],
                                page, page_size, total}; ``materials`` (catalog codes) with 补正资料, else [];
                                ``result`` (lianban.domain.results) with the status that brings one, else null
    POST /api/v1/cases:supplement {"batch_id", "seal", "items": [{idempotency_key, supplement_id, case_no, item_code,
                                envelope}]} → {"batch_id", "receipts": [{supplement_id, idempotency_key, accepted,
                                duplicate, code, reason}]}; sealed and refused like a batch; a supplement id seen before
                                is answered duplicate
    GET  /health                liveness, unsigned
    GET  /_sim/stats            the engine's counters (unique, duplicates, rejected, refused_batches), unsigned

Every ``/api/`` request must carry the gateway signature (:mod:`lianban.wire.gateway`): failures answer 401
``{"code": "AUTH", "message": ...}``; its nonces are kept in the engine's database, so a request replayed to
another worker serving the same department is refused too. Bodies over :data:`MAX_BODY_BYTES` answer 413;
malformed JSON 400; a body that does not fit the schema 422, always with a Chinese ``message``.
:class:`GatewayGuard` and :func:`install_gateway` are shared with the 皖事通办 simulator.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from lianban.domain.statuses import Status
from lianban.wire.gateway import GatewayVerifier
from simulators.engine import BatchRefused, DepartmentEngine, Intake, SupplementIntake

MAX_BODY_BYTES = 5 * 1024 * 1024
MAX_BATCH_ITEMS = 1000
MAX_PAGE_SIZE = 500
#: per department: engine refusal code (SEAL 解密失败, INVALID 字段校验失败, ITEM 事项不属于本部门) → the
#: department's own error code, as documented in connectors/<department>/statuses.py ERRORS
ERROR_CODES: dict[str, dict[str, str]] = {
    "health": {"SEAL": "JMSB", "INVALID": "ZDJYSB", "ITEM": "SXBSY", "NOCASE": "WSJ"},
    "housing_fund": {"SEAL": "E101", "INVALID": "E102", "ITEM": "E103", "NOCASE": "E104"},
}

_PYDANTIC_ZH = {
    "missing": "字段缺失", "string_type": "应为字符串", "int_type": "应为整数", "int_parsing": "应为整数",
    "bool_type": "应为布尔值", "dict_type": "应为对象", "list_type": "应为数组", "too_long": "长度或条数超出上限",
    "too_short": "不能为空", "string_too_short": "不能为空", "string_too_long": "过长",
    "greater_than_equal": "取值过小", "less_than_equal": "取值过大", "model_attributes_type": "应为对象",
}


class ApiError(BaseModel):
    code: str
    message: str


# -- the gateway layer (shared with the 皖事通办 simulator) -------------------------------------------
class GatewayGuard:
    """ASGI middleware: size limit and gateway signature for every path under `prefix`; body replayed."""

    def __init__(self, app: ASGIApp, verifier: GatewayVerifier, max_body: int = MAX_BODY_BYTES,
                 prefix: str = "/api/") -> None:
        self.app, self.verifier, self.max_body, self.prefix = app, verifier, max_body, prefix

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(self.prefix):
            await self.app(scope, receive, send)
            return
        body = await self._read(receive)
        if body is None:
            message = f"请求体超过 {self.max_body // (1024 * 1024)} MB 上限，请减小批次"
            await _error(413, "TOO_LARGE", message)(scope, receive, send)
            return
        reason = self.verifier.verify(scope["method"], _signed_path(scope), _headers(scope), body)
        if reason:
            await _error(401, "AUTH", reason)(scope, receive, send)
            return
        await self.app(scope, _replay(body, receive), send)

    async def _read(self, receive: Receive) -> bytes | None:
        """The whole body, or None when it exceeds the limit (the rest is drained so the client hears 413)."""
        parts: list[bytes] = []
        size, more = 0, True
        while more:
            message = await receive()
            if message["type"] != "http.request":
                break
            chunk = message.get("body", b"")
            size += len(chunk)
            if size <= self.max_body:
                parts.append(chunk)
            more = bool(message.get("more_body")) and size <= 4 * self.max_body
        return b"".join(parts) if size <= self.max_body else None


def _signed_path(scope: Scope) -> str:
    path = (scope.get("raw_path") or scope["path"].encode()).decode("latin-1")
    query = scope.get("query_string", b"").decode("latin-1")
    return f"{path}?{query}" if query else path


def _headers(scope: Scope) -> dict[str, str]:
    return {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}


def _replay(body: bytes, receive: Receive) -> Receive:
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if sent:
            return await receive()
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return replay


def _error(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse({"code": code, "message": message}, status_code=status)


def _explain(exc: RequestValidationError) -> str:
    parts = []
    for err in exc.errors()[:5]:
        where = ".".join(str(p) for p in err.get("loc", ()) if p != "body") or "请求体"
        parts.append(f"{where}（{_PYDANTIC_ZH.get(err.get('type', ''), err.get('msg', '格式错误'))}）")
    return "请求体不符合接口规范：" + "；".join(parts)


async def _validation_handler(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    if any(err.get("type") == "json_invalid" for err in exc.errors()):
        return _error(400, "BAD_JSON", "请求体不是合法的 JSON")
    return _error(422, "INVALID_REQUEST", _explain(exc))


def install_gateway(app: FastAPI, verifier: GatewayVerifier, max_body: int = MAX_BODY_BYTES) -> None:
    """Guard `app`'s ``/api/`` routes with the signature and size limit; answer bad bodies in Chinese."""
    app.add_middleware(GatewayGuard, verifier=verifier, max_body=max_body)
    app.add_exception_handler(RequestValidationError, _validation_handler)


GATEWAY_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: {"model": ApiError, "description": "请求体不是合法的 JSON"},
    401: {"model": ApiError, "description": "网关签名校验失败"},
    413: {"model": ApiError, "description": "请求体超过 5 MB"},
    422: {"model": ApiError, "description": "请求体不符合接口规范"},
}


#: what a sealed batch's endpoints answer besides: 400 also for a batch refused for its envelope
BATCH_RESPONSES: dict[int | str, dict[str, Any]] = {**GATEWAY_RESPONSES, 400: {
    "model": ApiError, "description": "请求体不是合法的 JSON（BAD_JSON）；或批次封装校验未通过，整批拒收、其中任何一条"
                                      "都未接收（BATCH_SIG、BATCH_DEPT、BATCH_KEY、BATCH_STALE、BATCH_REPLAY、BATCH_ROOT、"
                                      "BATCH_FORMAT、BATCH_SUITE）"}}


# -- the department API ---------------------------------------------------------------------------
class CaseIn(BaseModel):
    idempotency_key: str = Field(min_length=1, max_length=128)
    case_no: str = Field(min_length=1, max_length=64)  # 办件编号
    item_code: str = Field(min_length=1, max_length=16)  # 事项编码
    envelope: dict[str, Any]  # this item's sealed 退休待遇审核信息 within the batch (lianban.crypto.batch)


class BatchIn(BaseModel):
    batch_id: str = Field(min_length=1, max_length=64)
    seal: dict[str, Any]  # the batch envelope header, see lianban.crypto.batch
    items: list[CaseIn] = Field(max_length=MAX_BATCH_ITEMS)


class ReceiptOut(BaseModel):
    idempotency_key: str
    accepted: bool
    duplicate: bool
    ref: str | None = Field(max_length=64)  # the contract's maxLength (schemas/<department>/openapi.yaml)
    code: str = Field(max_length=16)
    reason: str | None


class BatchOut(BaseModel):
    batch_id: str  # the batch answered (its seal's): the hub takes no answer naming another
    receipts: list[ReceiptOut]


class SupplementIn(CaseIn):
    supplement_id: str = Field(min_length=1, max_length=128)  # the supplement's own idempotency key


class SupplementBatchIn(BaseModel):
    batch_id: str = Field(min_length=1, max_length=64)
    seal: dict[str, Any]  # the batch envelope header, see lianban.crypto.batch
    items: list[SupplementIn] = Field(max_length=MAX_BATCH_ITEMS)


class SupplementReceiptOut(BaseModel):
    supplement_id: str
    idempotency_key: str
    accepted: bool
    duplicate: bool
    code: str = Field(max_length=16)
    reason: str | None


class SupplementBatchOut(BaseModel):
    batch_id: str  # as BatchOut's
    receipts: list[SupplementReceiptOut]


class StatusQuery(BaseModel):
    keys: list[str] = Field(max_length=5000)
    page: int = Field(1, ge=1)
    page_size: int = Field(100, ge=1, le=MAX_PAGE_SIZE)


class StatusOut(BaseModel):
    idempotency_key: str
    code: str
    reason: str | None
    changed_at: str
    result: dict[str, str] | None = None
    materials: list[str] = []  # 补正资料: the materials asked for (catalog codes M01–M15)


class StatusPage(BaseModel):
    statuses: list[StatusOut]
    page: int
    page_size: int
    total: int


def create_app(engine: DepartmentEngine, app_id: str, secret: str, codes: Mapping[Status, str],
               error_codes: Mapping[str, str] | None = None, title: str | None = None) -> FastAPI:
    """The department's gateway: `codes` maps unified statuses to its own status codes (all seven),
    `error_codes` maps the engine's refusal codes to its own error codes (default: :data:`ERROR_CODES`
    for the engine's department; codes without an entry are answered as the engine's own)."""
    missing = [s.value for s in Status if s not in codes]
    if missing:
        raise ValueError(f"codes must cover every unified status; missing {missing}")
    errors = dict(ERROR_CODES.get(engine.department, {}) if error_codes is None else error_codes)
    app = FastAPI(title=title or f"{engine.department} 退休一件事联办接口（模拟）", version="1.0.0")
    install_gateway(app, GatewayVerifier({app_id: secret}, nonces=engine))  # its nonces kept beside its cases

    def receipt(i: Intake) -> ReceiptOut:
        code = codes[i.status] if i.accepted and i.status else errors.get(i.code, i.code)
        return ReceiptOut(idempotency_key=i.idempotency_key, accepted=i.accepted, duplicate=i.duplicate,
                          ref=i.ref, code=code, reason=i.reason)

    @app.post("/api/v1/cases:batch", response_model=BatchOut, responses=BATCH_RESPONSES)
    def submit_batch(batch: BatchIn) -> BatchOut | JSONResponse:
        """接收一批加密的退休待遇审核信息；先验批次签名与摘要树，再按 idempotency_key 去重，逐条回执。"""
        try:
            intakes = engine.receive([item.model_dump() for item in batch.items], batch.seal, batch.batch_id)
        except BatchRefused as refused:
            return _error(400, f"BATCH_{refused.code}", refused.reason)
        return BatchOut(batch_id=batch.batch_id, receipts=[receipt(i) for i in intakes])

    def supplement_receipt(i: SupplementIntake) -> SupplementReceiptOut:
        code = codes[i.status] if i.accepted and i.status else errors.get(i.code, i.code)
        return SupplementReceiptOut(supplement_id=i.supplement_id, idempotency_key=i.idempotency_key,
                                    accepted=i.accepted, duplicate=i.duplicate, code=code, reason=i.reason)

    @app.post("/api/v1/cases:supplement", response_model=SupplementBatchOut, responses=BATCH_RESPONSES)
    def submit_supplement(batch: SupplementBatchIn) -> SupplementBatchOut | JSONResponse:
        """接收一批加密的补正材料提交；验签与摘要树同批次投递，按 supplement_id 去重，逐条回执。"""
        try:
            intakes = engine.supplement([item.model_dump() for item in batch.items], batch.seal, batch.batch_id)
        except BatchRefused as refused:
            return _error(400, f"BATCH_{refused.code}", refused.reason)
        return SupplementBatchOut(batch_id=batch.batch_id, receipts=[supplement_receipt(i) for i in intakes])

    @app.post("/api/v1/cases:status", response_model=StatusPage, responses=GATEWAY_RESPONSES)
    def query_status(query: StatusQuery) -> StatusPage:
        """查询办理状态；未知的 key 不返回，按页返回。"""
        views = engine.statuses(query.keys)
        start = (query.page - 1) * query.page_size
        rows = [StatusOut(idempotency_key=v.idempotency_key, code=codes[v.status], reason=v.reason,
                          changed_at=v.changed_at, materials=list(v.materials), result=v.result)
                for v in views[start:start + query.page_size]]
        return StatusPage(statuses=rows, page=query.page, page_size=query.page_size, total=len(views))

    @app.get("/health")
    def health() -> dict[str, str]:
        return {"status": "ok", "department": engine.department}

    @app.get("/_sim/stats")
    def stats() -> dict[str, int]:
        return engine.stats()

    return app


# -- running in-process (tests, the demo) ------------------------------------------------------------
@contextmanager
def serve_in_background(app: ASGIApp, host: str = "127.0.0.1", port: int = 0) -> Iterator[str]:
    """Run `app` on 127.0.0.1 (:func:`simulators.runner.serve`); yields its base URL and stops it on exit."""
    from simulators.runner import serve

    if host != "127.0.0.1":
        raise ValueError("simulators listen on 127.0.0.1 only")
    server, thread, url = serve(app, port)
    try:
        yield url
    finally:
        server.should_exit = True
        thread.join(timeout=10)
