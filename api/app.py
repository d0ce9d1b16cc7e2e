"""FastAPI app: thin routes over `ocr6_scoring.service.Service` (all logic lives there).

Configuration (environment, read at start-up):
- OCR6_MODEL_DIR: model bundle folder; if unset, the `champion` of the MLflow registry (OCR6_TRACKING_URI)
- OCR6_DATA_DIR: data folder whose application_test (+ child tables) are the known clients
- OCR6_DATABASE_URL: SQLAlchemy URL of the audit log (default: SQLite beside the bundle)
- OCR6_DRIFT_REPORT: JSON of `ocr6 drift`, whose summary line /model shows
- OCR6_API_TOKEN: when set, every route but /health needs `Authorization: Bearer <token>`, /docs, /redoc and
  /openapi.json included unless OCR6_PUBLIC_DOCS=1
- request limits (body sizes, timeouts): see `api.guard`
"""
from __future__ import annotations
import gc, hmac, math, os
from contextlib import asynccontextmanager
from typing import Annotated, Any, Literal, Optional
from fastapi import Depends, FastAPI, HTTPException, Path as P, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import JSONResponse
from fastapi.security import HTTPBearer
from pydantic import AfterValidator, BaseModel, BeforeValidator, WithJsonSchema, ConfigDict, Field, create_model
from ocr6_scoring.data import CHILD_TABLES, REQUIRED, SCHEMA, domain_range
from ocr6_scoring.offers import MAX_OFFERS
from ocr6_scoring.service import MAX_BATCH, Service, ServiceError
from api.guard import BodyGuard, limits

# ---- request models, generated from the data schema (unknown fields and wrong types -> 422 naming the field)
_strict = ConfigDict(extra='forbid')
_FLOAT32_MAX = 3.4e38  # features are float32: a larger number would become infinity
_KEY_MAX = 2**53 - 1  # ids go through float64 in the feature pipeline: exact up to 2**53, a larger one would be another id
def _text(s: str) -> str:
    "Refuse text that is not valid Unicode (a lone surrogate such as \\ud800 cannot be stored or answered)."
    try: s.encode('utf-8')
    except UnicodeEncodeError: raise ValueError('text must be valid Unicode (it holds a lone surrogate, \\ud800-\\udfff)') from None
    return s

def _number(v):
    "A number field takes a JSON number: not true/false, not a string such as \"100002\"."
    if isinstance(v, (bool, str)): raise ValueError('expected a JSON number')
    return v

# no silent coercion: true and "100002" are not ids or counts, a number is not a category; an integer may be written 1000.0
# or 1e3 (JSON Schema's integer: a number without a fractional part), not 1000.5
_RANGE = {'key': (0, _KEY_MAX), 'int': (-(2**31 - 1), 2**31 - 1), 'float': (-_FLOAT32_MAX, _FLOAT32_MAX)}  # what the features can hold
_INT = lambda lo, hi: Annotated[int, Field(ge=lo, le=hi), BeforeValidator(_number)]
_FLOAT = lambda lo, hi: Annotated[float, Field(ge=lo, le=hi, allow_inf_nan=False, strict=True)]
_TEXT = Annotated[str, Field(max_length=200, strict=True), AfterValidator(_text)]

def _digits(v):
    "A client id in a path or query is plain decimal digits: not +100002, 100_002, 100002.0 or ' 100002'."
    if isinstance(v, str) and not (v.isascii() and v.isdigit() and len(v) <= 15): raise ValueError('a client id is 1 to 15 decimal digits')
    return v

_ID_SCHEMA = {'type': 'string', 'pattern': r'^[0-9]{1,15}$', 'description': 'SK_ID_CURR of a client (decimal digits)'}
ClientId = Annotated[int, P(ge=0, le=_KEY_MAX), BeforeValidator(_digits), WithJsonSchema(_ID_SCHEMA)]  # "10.0" is no id
QueryId = Annotated[Optional[int], Query(ge=0, le=_KEY_MAX), BeforeValidator(_digits), WithJsonSchema(_ID_SCHEMA)]

def _echo(v):
    "The rejected value as an error may show it: scalars only (NaN, Infinity and bad text as readable strings), never a whole object."
    if isinstance(v, float) and not math.isfinite(v): return str(v)
    if isinstance(v, str): return v[:200].encode('utf-8', 'backslashreplace').decode('utf-8')
    return v if isinstance(v, (int, float, bool)) or v is None else None

def validation_errors(errors) -> list[dict]:
    "Request-validation errors as JSON that always renders: where (loc), what (msg, type) and the rejected scalar (input)."
    out = []
    for e in errors:
        ctx = e.get('ctx') if e.get('type') == 'json_invalid' and isinstance(e.get('ctx'), dict) else {}
        msg = str(e.get('msg', '')) + (f": {ctx['error']}" if 'error' in ctx else '')  # where a JSON body breaks, and why
        item = {'loc': [x if isinstance(x, int) else _echo(str(x)) for x in e.get('loc', ())], 'msg': _echo(msg), 'type': str(e.get('type', ''))}
        if _echo(e.get('input')) is not None: item['input'] = _echo(e.get('input'))
        out.append(item)
    return out

def _typed(table: str, c: str, kind: str):
    "The field's type; an application's numbers are also held to their column's domain (`data.domain_range`), in the schema."
    if kind == 'cat': return _TEXT
    lo, hi = _RANGE[kind]
    if table.startswith('application') and kind != 'key':
        dlo, dhi = domain_range(c); lo, hi = max(lo, dlo), min(hi, dhi)
    return _INT(int(lo), int(hi)) if kind in ('key', 'int') else _FLOAT(lo, hi)

def _record_model(table: str, name: str, required=(), exclude=(), omissible=()):
    "A record of `table`: `required` fields, `omissible` ones (may be left out, not null), the others nullable (a missing value)."
    fields = {c: ((t, ...) if c in required else (t, None) if c in omissible else (Optional[t], None))
              for c, k in SCHEMA[table].items() if c not in exclude for t in [_typed(table, c, k)]}
    return create_model(name, __config__=_strict, **fields)

Application = _record_model('application_test', 'Application', required=('SK_ID_CURR',))
Overrides = _record_model('application_test', 'Overrides', exclude=('SK_ID_CURR',))
# child records: their own keys are required; SK_ID_CURR may be left out when one application is posted (it is filled in)
_CHILD = {t: _record_model(t, ''.join(w.capitalize() for w in t.split('_')) + 'Record', required=tuple(c for c in REQUIRED[t] if c != 'SK_ID_CURR'),
                           omissible=('SK_ID_CURR',)) for t in CHILD_TABLES}
_children = {t: (Optional[list[m]], None) for t, m in _CHILD.items()}
ScoreRequest = create_model('ScoreRequest', __config__=_strict, application=(Application, ...), **_children)
BatchRequest = create_model('BatchRequest', __config__=_strict,
                            applications=(list[Application], Field(..., min_length=1, max_length=MAX_BATCH)), **_children)

class WhatIfRequest(BaseModel):
    model_config = _strict
    overrides: Overrides  # type: ignore[valid-type]

# ---- response models (the dashboard depends on them: see tests/openapi.json)
class ErrorDetail(BaseModel):
    detail: str  # what was not found or not accepted, e.g. 'client 1 not found'

class FieldError(BaseModel):
    model_config = ConfigDict(extra='allow')
    loc: list[str | int]; msg: str; type: str

class ValidationErrors(BaseModel):
    detail: list[FieldError]  # request validation: one item per field, `loc` names it

class Health(BaseModel):
    status: Literal['ok']

class Score(BaseModel):
    id: Optional[int]; probability: float; decision: Literal['granted', 'refused']; threshold: float
    distance: float; points: float; band: str; model_version: str

class Batch(BaseModel):
    items: list[Score]

class WhatIf(BaseModel):
    before: Score; after: Score; overrides: dict[str, Any]

class OfferChange(BaseModel):
    field: Literal['AMT_CREDIT', 'AMT_ANNUITY', 'AMT_GOODS_PRICE']; label: str; old: Optional[float]; new: float

class OfferTerm(BaseModel):
    old: Optional[float]; new: float  # number of annuities (credit / annuity); old is None without an annuity

class Offer(BaseModel):
    kind: Literal['term', 'down payment', 'cheaper goods']
    overrides: dict[str, float]  # what POST /clients/{id}/what-if takes to give the same probability
    changes: list[OfferChange]; term: OfferTerm; probability: float; decision: Literal['granted']; threshold: float
    distance: float; change: float; sentence: str  # distance: probability - threshold; change: size of the change (ocr6_scoring.offers)

class CounterOffers(BaseModel):
    id: int; probability: float; decision: Literal['granted', 'refused']; threshold: float; model_version: str
    bounds: dict[str, Any]; offers: list[Offer]; reason: Optional[str]; candidates: int; lowest_probability: Optional[float]

class Clients(BaseModel):
    items: list[int]; total: int

class InfoItem(BaseModel):
    name: str; label: str; value: Any; unit: str

class Client(BaseModel):
    id: int; info: list[InfoItem]; application: dict[str, Any]

class Contribution(BaseModel):
    model_config = ConfigDict(extra='allow')
    group: str; label: str; value: Optional[str] = None; typical: Optional[str] = None
    probability_points: float; direction: Literal['raises', 'lowers']

class Explanation(BaseModel):
    model_config = ConfigDict(extra='allow')
    id: int; probability: float; base_probability: float; decision: str; threshold: float
    contributions: list[Contribution]; reasons: dict[str, list[str]]; model_version: str

class Neighbour(BaseModel):
    id: int; distance: float; target: int; score: float

class Similar(BaseModel):
    id: int; k: int; default_rate: float; neighbours: list[Neighbour]; features: list[str]

class FeatureHistogram(BaseModel):
    name: str; label: str; unit: str; edges: list[float]; repaid: list[int]; defaulted: list[int]; missing: int
    client_value: Optional[float]; percentile: Optional[float]; population: Literal['all', 'similar']; n: int

class Point(BaseModel):
    x: float; y: float; target: int; score: float

class Bivariate(BaseModel):
    x: str; y: str; x_label: str; y_label: str; points: list[Point]; client: Optional[dict[str, Optional[float]]]

class ModelInfo(BaseModel):
    model_config = ConfigDict(extra='allow')
    model_version: str; threshold: float; threshold_band: Optional[list[float]]; fn_cost: float; fp_cost: float
    calibration: str; estimator: str; metrics: dict[str, float]; global_importance: list[dict[str, Any]]
    features: list[dict[str, str]]; drift: Optional[str]
    performance: Optional[dict[str, Any]] = None  # estimated on the clients served (performance.estimate_for_bundle): bands, alert, sentence

# ---- the app
def _service_from_env() -> Service:
    model = os.environ.get('OCR6_MODEL_DIR')
    if not model:
        from ocr6_scoring.tracking import bundle_path
        model = bundle_path(tracking_uri=os.environ.get('OCR6_TRACKING_URI'))
    data = os.environ.get('OCR6_DATA_DIR')
    if not data: raise RuntimeError('OCR6_DATA_DIR is not set: the folder of the clients to serve')
    return Service(model, data, os.environ.get('OCR6_DATABASE_URL'), os.environ.get('OCR6_DRIFT_REPORT'))

def create_app(service: Service|None=None, token: str|None=None) -> FastAPI:
    "The FastAPI app; `service` (tests) or built at start-up from the environment."
    @asynccontextmanager
    async def lifespan(app: FastAPI):
        app.state.service = service or _service_from_env()
        if service is None:  # this process is the server: what start-up built lives as long as it, so the cyclic GC need not scan it
            gc.collect(); gc.freeze()  # (a full collection of those ~200,000 objects stalled every request ~120 ms on the sample)
        yield
        if service is None: app.state.service.audit.close()  # commit what is queued (requests still waiting have been answered)

    secret = (token if token is not None else os.environ.get('OCR6_API_TOKEN')) or None  # '' = no token
    hide = secret is not None and os.environ.get('OCR6_PUBLIC_DOCS', '') not in ('1', 'true', 'yes')  # docs behind the token
    app = FastAPI(title='ocr6_scoring API', version='1', lifespan=lifespan, **(dict(docs_url=None, redoc_url=None, openapi_url=None) if hide else {}),
                  description='Credit scoring: probability of default, decision, explanation, audit log.')
    app.add_middleware(BodyGuard, **limits())

    class Bearer(HTTPBearer):
        "The bearer-token check as one dependency (the OpenAPI scheme of HTTPBearer; async: no threadpool round trip per request)."
        async def __call__(self, request: Request) -> None:
            if secret is None: return
            cred = await super().__call__(request)
            if cred is None or not hmac.compare_digest(cred.credentials.encode(), secret.encode()):
                raise HTTPException(401, 'missing or invalid bearer token', headers={'WWW-Authenticate': 'Bearer'})

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError):  # a client's mistake: 422 naming the field, never a 500
        return JSONResponse(status_code=422, content={'detail': validation_errors(exc.errors())})

    @app.exception_handler(ServiceError)
    async def _service_error(request: Request, exc: ServiceError):
        return JSONResponse(status_code=exc.status, content={'detail': exc.message})

    svc = lambda request: request.app.state.service
    E404 = {404: {'model': ErrorDetail, 'description': 'unknown client or feature'}}
    E422 = {422: {'model': ValidationErrors | ErrorDetail, 'description': 'invalid request: a list of located errors '
                  '(request validation) or one message (a value the feature code rejects)'}}
    E401 = {401: {'model': ErrorDetail, 'description': 'missing or invalid bearer token'}} if secret else {}
    EBODY = {400: {'model': ErrorDetail, 'description': 'a body that is not valid UTF-8, or a bad Content-Length'},
             408: {'model': ErrorDetail, 'description': 'the body did not arrive in time (api.guard)'},
             413: {'model': ErrorDetail, 'description': "a body over the route's size limit (api.guard)"},
             415: {'model': ErrorDetail, 'description': 'a body that is not sent as application/json'}}
    E503 = {503: {'model': ErrorDetail, 'description': 'the audit log cannot be reached: the decision is not given (retry later)'}}
    guarded = [Depends(Bearer(auto_error=False, scheme_name='HTTPBearer'))] if secret else []  # the schema says what is required

    @app.get('/health', response_model=Health)
    def health(request: Request): return svc(request).health()

    if hide:
        @app.get('/openapi.json', include_in_schema=False, dependencies=guarded)
        def openapi(): return app.openapi()

        @app.get('/docs', include_in_schema=False, dependencies=guarded)
        def docs(): return get_swagger_ui_html(openapi_url='/openapi.json', title=f'{app.title} - docs')

        @app.get('/redoc', include_in_schema=False, dependencies=guarded)
        def redoc(): return get_redoc_html(openapi_url='/openapi.json', title=f'{app.title} - ReDoc')

    @app.get('/model', response_model=ModelInfo, dependencies=guarded, responses=E401)
    def model(request: Request): return svc(request).model_info()

    @app.get('/clients', response_model=Clients, dependencies=guarded, responses=E401)
    def clients(request: Request, q: str = Query('', max_length=20, pattern=r'^[0-9]*$'), limit: int = Query(20, ge=1, le=1000)):
        return svc(request).search(q, limit)

    @app.get('/clients/{client_id}', response_model=Client, dependencies=guarded, responses={**E401, **E404})
    def client(request: Request, client_id: ClientId): return svc(request).client(client_id)

    # the two hot routes run on the event loop: their answers are lookups (computed at start-up or kept), and they await the
    # audit commit instead of holding a worker thread; the CPU-bound routes below stay plain `def` (threadpool)
    @app.get('/clients/{client_id}/score', response_model=Score, dependencies=guarded, responses={**E401, **E404, **E503})
    async def score(request: Request, client_id: ClientId): return await svc(request).score_async(client_id)

    @app.get('/clients/{client_id}/explanation', response_model=Explanation, dependencies=guarded, responses={**E401, **E404, **E503})
    async def explanation(request: Request, client_id: ClientId, top: int = Query(5, ge=1, le=50)):
        return await svc(request).explanation_async(client_id, top)

    @app.get('/clients/{client_id}/similar', response_model=Similar, dependencies=guarded, responses={**E401, **E404})
    def similar(request: Request, client_id: ClientId, k: int = Query(10, ge=1, le=500)):
        return svc(request).similar(client_id, k)

    @app.post('/clients/{client_id}/what-if', response_model=WhatIf, dependencies=guarded, responses={**E401, **E404, **E422, **EBODY, **E503})
    def what_if(request: Request, body: WhatIfRequest, client_id: ClientId):
        return svc(request).what_if(client_id, body.overrides.model_dump(exclude_unset=True))

    @app.get('/clients/{client_id}/counter-offers', response_model=CounterOffers, dependencies=guarded, responses={**E401, **E404, **E503})
    def counter_offers(request: Request, client_id: ClientId, k: int = Query(3, ge=1, le=MAX_OFFERS)):
        return svc(request).counter_offers(client_id, k)

    @app.post('/score', response_model=Score, dependencies=guarded, responses={**E401, **E422, **EBODY, **E503})
    def score_raw(request: Request, body: ScoreRequest):  # type: ignore[valid-type]
        return svc(request).score_application(body.model_dump(exclude_unset=True))

    @app.post('/score/batch', response_model=Batch, dependencies=guarded, responses={**E401, **E422, **EBODY, **E503})
    def score_batch(request: Request, body: BatchRequest):  # type: ignore[valid-type]
        return svc(request).score_batch(body.model_dump(exclude_unset=True))

    @app.get('/population/feature/{name}', response_model=FeatureHistogram, dependencies=guarded, responses={**E401, **E404})
    def population_feature(request: Request, name: str, bins: int = Query(30, ge=2, le=200),
                           client_id: QueryId = None, similar_to: QueryId = None,
                           k: int = Query(200, ge=5, le=5000)):
        return svc(request).population_feature(name, bins, client_id, similar_to, k)

    @app.get('/population/bivariate', response_model=Bivariate, dependencies=guarded, responses={**E401, **E404})
    def bivariate(request: Request, x: str, y: str, n: int = Query(1000, ge=10, le=20_000),
                  client_id: QueryId = None):
        return svc(request).bivariate(x, y, n, client_id)

    return app

app = create_app()
