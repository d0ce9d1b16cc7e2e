"""Send hand-made hostile requests to a running ocr6 API and count the answers (an outside-style check).

    python scripts/hostile.py http://127.0.0.1:8000 [TOKEN]

Each request is one a careless or malicious client could send (non-finite numbers, lone surrogates, coerced types,
odd paths, absurd values, oversized or undecodable bodies, records of another client, missing or wrong tokens,
idle and half-sent connections, an oversized header). Expected: no 5xx, every refusal a 4xx with a `detail`.
Prints one line per request and a summary; exits 1 if any answer is a 5xx or a refusal without a detail.
"""
import json, socket, sys, time
from urllib.parse import urlsplit
import httpx

def cases(cid: int) -> list[tuple[str, str, str, bytes|None, dict]]:
    "(name, method, path, body, extra headers)."
    J = {'content-type': 'application/json'}
    app = lambda **f: json.dumps({'application': {'SK_ID_CURR': 1, **f}}).encode()
    raw = lambda s: s.encode('utf-8', 'surrogatepass')
    out = [(f'{v} in {f}', 'POST', '/score', raw('{"application":{"SK_ID_CURR":1,"%s":%s}}' % (f, v)), J)
           for f, v in [('AMT_CREDIT', 'NaN'), ('AMT_CREDIT', 'Infinity'), ('AMT_CREDIT', '-Infinity'), ('AMT_CREDIT', '1e400'),
                        ('EXT_SOURCE_1', 'NaN'), ('CNT_CHILDREN', '1e400')]]
    out += [('lone surrogate value', 'POST', '/score', raw('{"application":{"SK_ID_CURR":1,"CODE_GENDER":"\\ud800"}}'), J),
            ('lone surrogate key', 'POST', '/score', raw('{"application":{"SK_ID_CURR":1,"\\udfff":1}}'), J),
            ('what-if Infinity', 'POST', f'/clients/{cid}/what-if', b'{"overrides":{"EXT_SOURCE_1":Infinity}}', J),
            ('what-if income -1e30', 'POST', f'/clients/{cid}/what-if', b'{"overrides":{"AMT_INCOME_TOTAL":-1e30}}', J),
            ('what-if children -1', 'POST', f'/clients/{cid}/what-if', b'{"overrides":{"CNT_CHILDREN":-1}}', J),
            ('id true', 'POST', '/score', b'{"application":{"SK_ID_CURR":true}}', J),
            ('id as text', 'POST', '/score', b'{"application":{"SK_ID_CURR":"100002"}}', J),
            ('id 1000.5', 'POST', '/score', b'{"application":{"SK_ID_CURR":1000.5}}', J),
            ('id 2**53', 'POST', '/score', b'{"application":{"SK_ID_CURR":9007199254740993}}', J),
            ('children true', 'POST', '/score', app(CNT_CHILDREN=True), J),
            ('absurd values', 'POST', '/score', app(AMT_INCOME_TOTAL=-3.4e38, AMT_CREDIT=-3.4e38, DAYS_BIRTH=2147483647, CNT_CHILDREN=-2147483647), J),
            ('child of another client', 'POST', '/score', json.dumps({'application': {'SK_ID_CURR': cid}, 'previous_application': [{'SK_ID_CURR': cid + 1, 'SK_ID_PREV': 1}]}).encode(), J),
            ('orphan bureau balance', 'POST', '/score/batch', json.dumps({'applications': [{'SK_ID_CURR': 5}], 'bureau_balance': [{'SK_ID_BUREAU': 9, 'MONTHS_BALANCE': -1}]}).encode(), J),
            ('child id null', 'POST', '/score', json.dumps({'application': {'SK_ID_CURR': 5}, 'bureau': [{'SK_ID_CURR': None, 'SK_ID_BUREAU': 1}]}).encode(), J),
            ('unknown field', 'POST', '/score', app(INCOME=1), J),
            ('unknown table', 'POST', '/score', b'{"application":{"SK_ID_CURR":1},"bureaux":[]}', J),
            ('empty batch', 'POST', '/score/batch', b'{"applications":[]}', J),
            ('1,001 applications', 'POST', '/score/batch', json.dumps({'applications': [{'SK_ID_CURR': i} for i in range(1001)]}).encode(), J),
            ('duplicate ids in batch', 'POST', '/score/batch', b'{"applications":[{"SK_ID_CURR":1},{"SK_ID_CURR":1}]}', J),
            ('truncated JSON', 'POST', '/score', b'{"application":{"SK_ID_CURR":1,', J),
            ('not JSON at all', 'POST', '/score', b'\x00\x01garbage', J),
            ('invalid UTF-8', 'POST', '/score', b'{"application":{"SK_ID_CURR":1,"CODE_GENDER":"\xff"}}', J),
            ('form body', 'POST', '/score', b'application=1', {'content-type': 'application/x-www-form-urlencoded'}),
            ('no content type', 'POST', '/score', b'{}', {}),
            ('2 MiB body', 'POST', '/score', b'{"application":{"SK_ID_CURR":1,"NAME_TYPE_SUITE":"' + b'x' * (2 << 20) + b'"}}', J),
            ('20 MiB batch', 'POST', '/score/batch', b'{"applications":[' + b'{"SK_ID_CURR":1},' * ((20 << 20) // 17) + b'{"SK_ID_CURR":2}]}', J),
            ('PUT a score', 'PUT', '/score', b'{}', J),
            ('DELETE a client', 'DELETE', f'/clients/{cid}', None, {})]
    out += [(f'path {p!r}', 'GET', f'/clients/{p}/score', None, {})
            for p in ['+100002', '100_002', '100002.0', '%20100002', '0x186A2', '-1', '99999999999999999999', '%00', '..%2f..%2fetc', '１００００２']]
    out += [('query id +1', 'GET', '/population/bivariate?x=AMT_CREDIT&y=AMT_ANNUITY&client_id=+1', None, {}),
            ('histogram of nothing', 'GET', '/population/feature/NOPE', None, {}),
            ('limit 0', 'GET', '/clients?limit=0', None, {}), ('search letters', 'GET', '/clients?q=abc', None, {}),
            ('top 10**9', 'GET', f'/clients/{cid}/explanation?top=1000000000', None, {})]
    return out

def sockets(url: str) -> dict:
    "Idle and half-sent connections, and a 1 MiB header: how many the server closed or refused within 30 s."
    host, port = urlsplit(url).hostname, urlsplit(url).port or 80
    idle = [socket.create_connection((host, port)) for _ in range(10)]
    half = [socket.create_connection((host, port)) for _ in range(10)]
    for s in half: s.sendall(b'GET /health HTTP/1.1\r\nHost: x\r\nX-Slow: ')
    big = socket.create_connection((host, port))
    try: big.sendall(b'GET /model HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ' + b'x' * (1 << 20) + b'\r\n\r\n')
    except OSError: pass
    closed, end = set(), time.monotonic() + 30
    for s in idle + half + [big]: s.settimeout(0.2)
    while time.monotonic() < end and len(closed) < 21:
        for s in idle + half + [big]:
            if s in closed: continue
            try:
                if s.recv(65536) == b'': closed.add(s)
                elif s is big: closed.add(s)  # answered (400) rather than processed
            except socket.timeout: pass
            except OSError: closed.add(s)
    for s in idle + half + [big]: s.close()
    return {'idle closed': sum(s in closed for s in idle), 'half-sent closed': sum(s in closed for s in half), '1 MiB header refused': big in closed}

def main(url: str, token: str = ''):
    auth = {'Authorization': f'Bearer {token}'} if token else {}
    with httpx.Client(base_url=url, timeout=60) as c:
        cid = c.get('/clients', params={'limit': 1}, headers=auth).json()['items'][0]
        bad, rows = [], []
        for name, method, path, body, headers in cases(cid):
            t = time.perf_counter()
            r = c.request(method, path, content=body, headers={**auth, **headers})
            ok = r.status_code < 500 and (r.status_code < 400 or bool(r.json().get('detail') if 'json' in r.headers.get('content-type', '') else False))
            rows.append((name, r.status_code, time.perf_counter() - t)); bad += [] if ok else [name]
            print(f'{r.status_code}  {time.perf_counter() - t:6.2f} s  {name}')
        if token:
            for name, h in [('no token', {}), ('wrong token', {'Authorization': 'Bearer nope'}), ('docs without token', {})]:
                r = c.get('/openapi.json' if 'docs' in name else f'/clients/{cid}/score', headers=h)
                rows.append((name, r.status_code, 0)); bad += [] if r.status_code == 401 else [name]
                print(f'{r.status_code}  {name}')
    socks = sockets(url); print(socks)
    n5 = sum(s >= 500 for _, s, _ in rows)
    print(f'{len(rows)} hostile requests: {n5} answers >= 500, {len(bad)} without the expected refusal; slowest {max(t for *_, t in rows):.2f} s; {socks}')
    return 1 if bad or n5 or not all(socks.values()) else 0

if __name__ == '__main__': sys.exit(main(*sys.argv[1:]))
