"""What the API's server refuses before any route runs: oversized, slow, mistyped or undecodable bodies, oversized
headers and connections that never send a request.

Limits (environment, read when the app is created; sizes in bytes, times in seconds):
- OCR6_MAX_BODY: largest body of POST /score and the what-if route (default 1 MiB: one applicant with thousands of
  child records);
- OCR6_MAX_BATCH_BODY: largest body of POST /score/batch (default 8 MiB: 1,000 complete applications with their records);
- OCR6_BODY_TIMEOUT: a body must arrive within this time (default 10 s), else 408;
- OCR6_HEAD_TIMEOUT: a connection must send a complete request head within this time of opening (or of its previous
  response), else it is closed (default 10 s); request heads are at most 16 KiB (h11's limit), else 400.
"""
from __future__ import annotations
import asyncio, json, os, re
from uvicorn.protocols.http.h11_impl import H11Protocol

MiB = 1024 * 1024
BATCH_PATH = '/score/batch'
BODY_ROUTES = re.compile(r'^(/score|/score/batch|/clients/[^/]+/what-if)/?$')  # the routes that take a body (POST)

def _env(name: str, default: float) -> float:
    v = os.environ.get(name)
    try: return float(v) if v else default
    except ValueError: raise RuntimeError(f'{name} must be a number, got {v!r}') from None

def limits() -> dict:
    "The limits in force, from the environment (see the module's docstring)."
    return {'body': int(_env('OCR6_MAX_BODY', MiB)), 'batch_body': int(_env('OCR6_MAX_BATCH_BODY', 8 * MiB)),
            'body_timeout': _env('OCR6_BODY_TIMEOUT', 10.0), 'head_timeout': _env('OCR6_HEAD_TIMEOUT', 10.0)}

async def _reply(send, status: int, detail: str):
    body = json.dumps({'detail': detail}).encode()
    await send({'type': 'http.response.start', 'status': status,
                'headers': [(b'content-type', b'application/json'), (b'content-length', str(len(body)).encode()), (b'connection', b'close')]})
    await send({'type': 'http.response.body', 'body': body})

def _is_json(ctype: str) -> bool:
    media = ctype.split(';', 1)[0].strip().lower()
    return media == 'application/json' or (media.startswith('application/') and media.endswith('+json'))

class BodyGuard:
    "ASGI middleware: a request body is JSON, within its route's size limit, sent in time, and valid UTF-8, or it is refused."
    def __init__(self, app, body: int, batch_body: int, body_timeout: float, **_):
        self.app, self.body, self.batch_body, self.timeout = app, body, batch_body, body_timeout

    async def __call__(self, scope, receive, send):
        if scope['type'] != 'http' or scope['method'] != 'POST' or not BODY_ROUTES.match(scope['path']):
            return await self.app(scope, receive, send)  # other methods and paths: the router answers (405, 404)
        path, headers = scope['path'], dict(scope['headers'])
        limit = self.batch_body if path.rstrip('/') == BATCH_PATH else self.body
        try: n = int(headers[b'content-length']) if b'content-length' in headers else None
        except ValueError: return await _reply(send, 400, 'Content-Length must be an integer')
        if n is not None and n > limit:
            return await _reply(send, 413, f'request body of {n:,} bytes is over the {limit:,}-byte limit of {path}')
        if not _is_json(headers.get(b'content-type', b'').decode('latin-1')):
            return await _reply(send, 415, 'the body must be JSON, sent with Content-Type: application/json')
        chunks, size, more = [], 0, True
        loop = asyncio.get_running_loop(); deadline = loop.time() + self.timeout
        while more:
            try: msg = await asyncio.wait_for(receive(), max(0.0, deadline - loop.time()))
            except asyncio.TimeoutError: return await _reply(send, 408, f'request body not received within {self.timeout:g} s')
            if msg['type'] == 'http.disconnect': return
            chunk = msg.get('body', b''); size += len(chunk); more = msg.get('more_body', False)
            if size > limit: return await _reply(send, 413, f'request body is over the {limit:,}-byte limit of {path}')
            chunks.append(chunk)
        data = b''.join(chunks)
        try: data.decode('utf-8')
        except UnicodeDecodeError as e: return await _reply(send, 400, f'request body is not valid UTF-8 (byte {e.start:,}: {data[e.start:e.start + 1]!r})')
        replayed = False
        async def replay():
            nonlocal replayed
            if replayed: return await receive()
            replayed = True; return {'type': 'http.request', 'body': data, 'more_body': False}
        await self.app(scope, replay, send)

class GuardedH11(H11Protocol):
    "uvicorn's h11 protocol, closing a connection that has not sent a complete request head within OCR6_HEAD_TIMEOUT."
    def connection_made(self, transport):
        super().connection_made(transport)
        self._head_timeout = limits()['head_timeout']  # read per connection: every worker process sees the same environment
        self._arm()

    def _arm(self):
        self._head_seen = self.cycle
        self._head_timer = self.loop.call_later(self._head_timeout, self._expire)

    def _expire(self):
        idle = self.cycle is None or self.cycle.response_complete
        if idle and self.cycle is self._head_seen and not self.transport.is_closing(): self.transport.close()  # no new request head
        elif not self.transport.is_closing(): self._arm()  # a request is in flight or a new one came: watch the next one

    def connection_lost(self, exc):
        if getattr(self, '_head_timer', None) is not None: self._head_timer.cancel()
        super().connection_lost(exc)

def server_options() -> dict:
    "uvicorn settings of `ocr6 serve`: the guarded h11 protocol (16 KiB heads, head timeout) and a short keep-alive."
    limits()  # a malformed limit stops the server here, before any worker starts
    return {'http': 'api.guard:GuardedH11', 'timeout_keep_alive': 5}  # by name: worker processes import it themselves
