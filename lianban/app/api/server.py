"""The hub's FastAPI application: the applicant's progress query (JSON and the page ``/query``).

Routes (the JSON API is published in ``schemas/hub/openapi.json``; a test fails when the served one differs)::

    POST /api/v1/progress     {"case_no", "password"} → 200 the case (lianban.ledger.applicant_view),
                              404 wrong password or unknown case (one answer), 429 too many failures,
                              413 body over 8 KB, 422 not the JSON object asked for
    GET  /api/v1/openapi.json the document above
    GET  /query, POST /query  the page (lianban.app.api.page); same answers, as HTML
    GET  /query.css           its stylesheet (and /favicon.ico: 204, there is none)
    POST /api/v1/departments/{department}/status
                              a department pushes status changes (lianban.app.api.callbacks): gateway-signed
                              like the hub's requests to it, up to 1,000 rows and 1 MB; 200 answers are signed
                              with the hub's key (X-Lianban-Signature), refusals are ``{"code", "message"}``

Every answer carries the security headers of :mod:`lianban.app.api.guards`. The application keeps no state
that correctness depends on: the ledger holds the rate limit and the gateway's nonces, so any number of workers
may serve it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import parse_qs

from fastapi import FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException

from lianban import __version__
from lianban.app.api import page
from lianban.app.api.callbacks import UNKNOWN, GatewayError, PushAnswer, StatusPush
from lianban.app.api.guards import BodyLimit, SecurityHeaders
from lianban.ledger.progress_query import Answer, Outcome
from lianban.wire.gateway import HEADER_APP_ID, HEADER_NONCE, HEADER_SIGNATURE, HEADER_TIMESTAMP
from lianban.wire.signatures import HEADER as SIGNATURE_HEADER

REFUSED = "办件编号或查询密码不正确，请核对受理回执上的办件编号和查询密码。"
LIMITED = "查询失败次数过多，请15分钟后再试；如遗失查询密码，请到人社窗口重新获取。"
INVALID = "请求格式不正确：请提交 JSON 对象 {\"case_no\": 办件编号, \"password\": 查询密码}。"
NOT_FOUND = "没有这个地址：办件进度查询为 POST /api/v1/progress 或页面 /query，接口说明见 /api/v1/openapi.json。"
NOT_ALLOWED = "该地址不接受此请求方法，请按 /api/v1/openapi.json 的说明提交（查询与状态回调均为 POST）。"
#: Starlette's own refusals, in English, as the hub says them
ROUTING = {404: NOT_FOUND, 405: NOT_ALLOWED}
STATUS = {Outcome.FOUND: 200, Outcome.REFUSED: 404, Outcome.LIMITED: 429}
SENTENCE = {Outcome.REFUSED: REFUSED, Outcome.LIMITED: LIMITED}
FIELD_MAX = 64
FORM_FIELDS_MAX = 4


class Desk(Protocol):
    """What answers a query (lianban.ledger.progress_query.ProgressDesk)."""

    def query(self, case_no: str, password: str, client: str) -> Answer: ...


class ProgressQuery(BaseModel):
    """办件编号 and 查询密码, as printed on the 受理回执."""

    model_config = ConfigDict(extra="forbid", strict=True)
    case_no: str = Field(min_length=1, max_length=FIELD_MAX, description="办件编号")
    password: str = Field(min_length=1, max_length=FIELD_MAX, description="查询密码")


class ItemProgress(BaseModel):
    item_code: str = Field(description="事项编码")
    item_name: str = Field(description="事项名称")
    department: str = Field(description="责任单位")
    status: str | None = Field(description="办理状态（七个统一状态之一；尚未反馈为 null）")
    changed_at: str | None = Field(description="最近一次状态变化的时间（北京时间，ISO 8601，带 +08:00）")
    reason: str | None = Field(description="原因")
    materials: list[str] = Field(description="需补正的材料名称（补正资料时）")
    supplement_due: str | None = Field(description="补正截止日期（补正资料时）")
    due_date: str | None = Field(description="承诺办结日期")
    result: str | None = Field(description="办理结果")


class CaseProgress(BaseModel):
    case_no: str = Field(description="办件编号")
    status: str = Field(description="办件状态")
    items: list[ItemProgress]


class Refusal(BaseModel):
    detail: str = Field(description="说明（中文）")


def _client(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def _refusal(status: int, sentence: str) -> JSONResponse:
    return JSONResponse({"detail": sentence}, status_code=status)


def _refusals() -> dict[int | str, dict[str, Any]]:
    said = {404: REFUSED, 413: "请求内容过大", 422: INVALID, 429: LIMITED}
    return {code: {"model": Refusal, "description": text} for code, text in said.items()}


CALLBACK_PATH = "/api/v1/departments/{department}/status"
CALLBACK_REFUSALS: dict[int | str, dict[str, Any]] = {
    400: {"model": GatewayError, "description": "请求体不是合法的 JSON"},
    401: {"model": GatewayError, "description": "网关签名校验失败：缺少、过期、重放或无效"},
    403: {"model": GatewayError, "description": "签名的应用标识属于其他部门"},
    404: {"model": GatewayError, "description": "无此部门或该部门未开通回调"},
    413: {"model": Refusal, "description": "请求体超过 1 MB"},
    422: {"model": GatewayError, "description": "请求体不符合接口规范"},
}


class Gate(Protocol):
    """What takes department callbacks (lianban.app.api.callbacks.CallbackGate)."""

    def handle(self, department: str, path: str, headers: Mapping[str, str], body: bytes) -> Any: ...


def create_app(desk: Desk, gate: Gate | None = None) -> Any:
    """The application answering with `desk` (and `gate` for department callbacks: without one, every push is
    answered 404), wrapped in its guards (an ASGI app)."""
    return SecurityHeaders(BodyLimit(build_api(desk, gate)))


def _signed_path(request: Request) -> str:
    """The path with its query as the client signed it (the raw bytes, not a decoded form)."""
    scope = request.scope
    path = (scope.get("raw_path") or scope["path"].encode()).decode("latin-1")
    query = scope.get("query_string", b"").decode("latin-1")
    return f"{path}?{query}" if query else path


#: the gateway signature a push carries (lianban.wire.gateway), read by the route itself, so described here
SIGNED_WITH = {HEADER_APP_ID: "应用标识（部门连接 dept_<部门> 的登录名）",
               HEADER_TIMESTAMP: "签名时的 Unix 秒（±5 分钟）", HEADER_NONCE: "随机数（最多 64 个字符，不得重复使用）",
               HEADER_SIGNATURE: "SM3-HMAC（十六进制），密钥为应用密钥，签名原文为 方法、路径（含查询串）、时间戳、"
                                 "随机数、请求体 SM3 以换行连接"}
ANSWER_SIGNED = {SIGNATURE_HEADER: {"description": "枢纽对应答的签名（与部门签名其应答的方式相同：v=2，"
                                                   "覆盖应答及所答推送的请求体 SM3）",
                                    "schema": {"type": "string"}}}


def _callbacks(api: FastAPI, gate: Gate) -> None:
    schema = {"requestBody": {"required": True, "content": {"application/json": {
        "schema": {"$ref": "#/components/schemas/StatusPush"}}}},
        "parameters": [{"name": name, "in": "header", "required": True, "description": said,
                        "schema": {"type": "string"}} for name, said in SIGNED_WITH.items()]}
    responses = {**CALLBACK_REFUSALS, 200: {"headers": ANSWER_SIGNED}}

    @api.post(CALLBACK_PATH, response_model=PushAnswer, responses=responses, openapi_extra=schema,
              summary="部门状态回调 (a department pushes its status changes)")
    async def department_status(department: str, request: Request) -> Response:
        body = await request.body()
        headers = {k: v for k, v in request.headers.items()}
        answer = await run_in_threadpool(gate.handle, department, _signed_path(request), headers, body)
        return Response(answer.body, status_code=answer.status, headers=dict(answer.headers),
                        media_type="application/json")
    _document_push(api)


def _document_push(api: FastAPI) -> None:
    """The route reads its body itself (authenticated first, parsed after), so FastAPI does not know its schema:
    add StatusPush to the document's components."""
    build = api.openapi

    def openapi() -> dict[str, Any]:
        if api.openapi_schema is None:
            document = build()
            schema = StatusPush.model_json_schema(ref_template="#/components/schemas/{model}")
            document["components"]["schemas"].update({**schema.pop("$defs", {}), "StatusPush": schema})
        return api.openapi_schema  # type: ignore[return-value]

    api.openapi = openapi  # type: ignore[method-assign]


def build_api(desk: Desk, gate: Gate | None = None) -> FastAPI:
    """The FastAPI application itself, unguarded (see :func:`create_app`)."""
    api = FastAPI(title="lianban 联办 · 退休一件事 数据交换枢纽", version=__version__, docs_url=None,
                  redoc_url=None, openapi_url="/api/v1/openapi.json")

    @api.exception_handler(RequestValidationError)
    async def invalid(_request: Request, _exc: RequestValidationError) -> JSONResponse:
        return _refusal(422, INVALID)  # never echoes the input: it may hold the password

    @api.exception_handler(HTTPException)
    async def unparsable(_request: Request, exc: HTTPException) -> JSONResponse:
        if exc.status_code == 400:  # a body that is not even text (FastAPI's "error parsing the body")
            return _refusal(422, INVALID)
        said = ROUTING.get(exc.status_code, exc.detail)
        return JSONResponse({"detail": said}, status_code=exc.status_code, headers=exc.headers)

    @api.post("/api/v1/progress", response_model=CaseProgress, responses=_refusals(),
              summary="办件进度查询 (the applicant's progress query)")
    def progress(query: ProgressQuery, request: Request) -> Any:
        answer = desk.query(query.case_no, query.password, _client(request))
        if answer.progress is None:
            return _refusal(STATUS[answer.outcome], SENTENCE[answer.outcome])
        return answer.progress.as_dict()

    _callbacks(api, gate or _NoGate())

    @api.get("/query", response_class=HTMLResponse, include_in_schema=False)
    def query_form() -> HTMLResponse:
        return HTMLResponse(page.page())

    @api.post("/query", response_class=HTMLResponse, include_in_schema=False)
    async def query_page(request: Request) -> HTMLResponse:
        try:
            form = parse_qs((await request.body()).decode("utf-8", "replace"), max_num_fields=FORM_FIELDS_MAX)
        except ValueError:  # more fields than the form has
            form = {}
        case_no, password = (form.get(k, [""])[0][:FIELD_MAX] for k in ("case_no", "password"))
        if not case_no.strip() or not password:
            return HTMLResponse(page.page(case_no, "请填写办件编号和查询密码。"), status_code=422)
        answer = await run_in_threadpool(desk.query, case_no, password, _client(request))
        message = SENTENCE.get(answer.outcome)
        return HTMLResponse(page.page(case_no, message, answer.progress), status_code=STATUS[answer.outcome])

    @api.get("/query.css", include_in_schema=False)
    def stylesheet() -> Response:
        return Response(page.CSS, media_type="text/css")

    @api.get("/favicon.ico", include_in_schema=False)
    def no_icon() -> Response:  # browsers ask for one; "none" is an answer, a 404 is an error in their console
        return Response(status_code=204)

    return api


class _NoDesk:
    def query(self, case_no: str, password: str, client: str) -> Answer:
        raise RuntimeError("no ledger: this application only describes itself")


@dataclass(frozen=True)
class _Refused:
    status: int
    body: bytes
    headers: Mapping[str, str]


class _NoGate:
    """No department may push (a hub serving only the progress query)."""

    def handle(self, department: str, path: str, headers: Mapping[str, str], body: bytes) -> Any:
        return _Refused(404, json.dumps({"code": "UNKNOWN_DEPARTMENT", "message": UNKNOWN},
                                        ensure_ascii=False).encode(), {})


def openapi_document() -> dict[str, Any]:
    """The JSON API's OpenAPI document, as served (committed as ``schemas/hub/openapi.json``)."""
    return build_api(_NoDesk()).openapi()
