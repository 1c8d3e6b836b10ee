"""The hub's FastAPI application: the applicant's progress query (JSON and the page ``/query``).

Routes (the JSON API is published in ``schemas/hub/openapi.json``; a test fails when the served one differs)::

    POST /api/v1/progress     {"case_no", "password"} → 200 the case (lianban.ledger.applicant_view),
                              404 wrong password or unknown case (one answer), 429 too many failures,
                              413 body over 8 KB, 422 not the JSON object asked for
    GET  /api/v1/openapi.json the document above
    GET  /query, POST /query  the page (lianban.app.api.page); same answers, as HTML
    GET  /query.css           its stylesheet (and /favicon.ico: 204, there is none)

    (next: POST /api/v1/departments/{department}/status, signed department callbacks: issue 10 §2)

Where the callbacks go: a route here, its connector's answer parsing from ``lianban.app.registry`` (the same
mapping tables), its signature checked with ``lianban.wire.gateway.GatewayVerifier`` over the department's
connection secret (its nonce memory is per process today: move it into the ledger, beside
``query_attempts``, before running several workers), and the updates applied through
``lianban.pipeline.feedback``'s path (``record_status`` already records a change that arrives twice once), with
``EvidenceLog.received`` for the callback and ``sent`` for the hub's signed answer.

Every answer carries the security headers of :mod:`lianban.app.api.guards`. The application keeps no state
that correctness depends on: the ledger holds the rate limit, so any number of workers may serve it.
"""

from __future__ import annotations

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
from lianban.app.api.guards import BodyLimit, SecurityHeaders
from lianban.ledger.progress_query import Answer, Outcome

REFUSED = "办件编号或查询密码不正确，请核对受理回执上的办件编号和查询密码。"
LIMITED = "查询失败次数过多，请15分钟后再试；如遗失查询密码，请到人社窗口重新获取。"
INVALID = "请求格式不正确：请提交 JSON 对象 {\"case_no\": 办件编号, \"password\": 查询密码}。"
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
    changed_at: str | None = Field(description="最近一次状态变化的时间")
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


def create_app(desk: Desk) -> Any:
    """The application answering with `desk`, wrapped in its guards (an ASGI app)."""
    return SecurityHeaders(BodyLimit(build_api(desk)))


def build_api(desk: Desk) -> FastAPI:
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
        return JSONResponse({"detail": exc.detail}, status_code=exc.status_code, headers=exc.headers)

    @api.post("/api/v1/progress", response_model=CaseProgress, responses=_refusals(),
              summary="办件进度查询 (the applicant's progress query)")
    def progress(query: ProgressQuery, request: Request) -> Any:
        answer = desk.query(query.case_no, query.password, _client(request))
        if answer.progress is None:
            return _refusal(STATUS[answer.outcome], SENTENCE[answer.outcome])
        return answer.progress.as_dict()

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


def openapi_document() -> dict[str, Any]:
    """The JSON API's OpenAPI document, as served (committed as ``schemas/hub/openapi.json``)."""
    return build_api(_NoDesk()).openapi()
