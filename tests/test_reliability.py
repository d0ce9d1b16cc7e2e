"""Reliability of the scoring API (issue 9), on a model trained on the real sample.

- an altered bundle: the server refuses to start and names the file (subprocesses: uvicorn and `ocr6 serve`);
- schemathesis against the app's OpenAPI, in process (ASGI): no 5xx, 2xx answers match their schema,
  every decision answered is in the audit log;
- 20,000 requests from 32 concurrent keep-alive clients to a uvicorn server: all 200, and the audit
  table holds exactly the decisions answered;
- SIGKILL of the server under load: every decision answered before the kill is in the audit log, the
  database is intact and the restarted server answers.

Servers listen on 127.0.0.1 only, on ports the kernel picks (bind to port 0). The harness (servers, the asyncio
load client `Conn`) is ocr6_scoring.testing, which bench/bench_service.py uses too. Timings are printed
(`pytest -s`), never asserted: speed goals live in the benchmarks.
"""
from __future__ import annotations
import asyncio, contextlib, json, os, shutil, signal, sqlite3, subprocess, sys, time
from collections import Counter
from pathlib import Path
import pytest
from ocr6_scoring.cli import free_port, stop_processes
from ocr6_scoring.testing import (Conn, api_server, audit_rows, client_ids, get_once, known_applications, server_env,
                                 start_uvicorn, wait_ready)

ROOT = Path(__file__).resolve().parents[1]

# ---- helpers: the harness shared with bench/ lives in ocr6_scoring.testing

_get_once, stop = get_once, stop_processes


# ---- 1. an altered bundle is refused, naming the file

def _alter(bundle: Path, name: str, tmp: Path) -> Path:
    b = tmp/f'altered-{name}'; shutil.copytree(bundle, b)
    p = b/name
    if name.endswith('.json'): p.write_text(p.read_text() + ' ')
    else:
        data = bytearray(p.read_bytes()); data[len(data) // 2] ^= 0xFF; p.write_bytes(bytes(data))
    return b


@pytest.mark.parametrize('name', ['features.json', 'model.ubj'])
def test_uvicorn_refuses_altered_bundle(sample_bundle, clients_dir, tmp_path, name):
    b, port = _alter(sample_bundle, name, tmp_path), free_port()
    t = time.perf_counter()
    r = subprocess.run([sys.executable, '-m', 'uvicorn', 'api.app:app', '--host', '127.0.0.1', '--port', str(port), '--workers', '1'],
                       cwd=ROOT, env=server_env(b, clients_dir, tmp_path/'audit.db'), capture_output=True, text=True, timeout=120)
    print(f'uvicorn on an altered {name}: exit {r.returncode} after {time.perf_counter() - t:.1f} s')
    assert r.returncode != 0, f'the server started on an altered bundle:\n{r.stderr[-2000:]}'
    assert f'{name} does not match its sha256' in r.stderr, r.stderr[-3000:]
    assert 'Application startup failed' in r.stderr
    assert not (tmp_path/'audit.db').exists()  # refused before anything is opened for writing


def test_ocr6_serve_refuses_altered_bundle(sample_bundle, clients_dir, tmp_path):
    from conftest import ocr6
    if ocr6('serve', '--help').returncode: pytest.skip('this ocr6 has no serve sub-command')
    b, port = _alter(sample_bundle, 'features.json', tmp_path), free_port()
    r = ocr6('serve', '--model', b, '--data-dir', clients_dir, '--host', '127.0.0.1', '--port', port,
             '--database-url', f"sqlite:///{tmp_path/'audit.db'}", timeout=120)
    assert r.returncode != 0, f'ocr6 serve started on an altered bundle:\n{r.stdout}\n{r.stderr[-2000:]}'
    assert 'features.json' in r.stderr and 'sha256' in r.stderr, r.stderr[-3000:]
    assert 'API on http' not in r.stdout  # refused before binding the port


# ---- 2. schemathesis: generated requests from the OpenAPI schema, in process

POSITIVE_EXAMPLES = 100  # per operation; the two raw-scoring routes are slow (~0.2 s a case with generation)
SLOW_OPERATIONS = {'POST /score': 40, 'POST /score/batch': 40}
NEGATIVE_EXAMPLES = 25  # per operation (schema-violating requests: must get a 4xx, never a 5xx)
MIN_CASES = 1000


TOKEN = 'fuzz-token'
AUTH = {'Authorization': f'Bearer {TOKEN}'}

def _semantic_422(failure, response) -> bool:
    "A schema-valid request refused by the service's own checks (linked records, plausible values): documented 422 with one message."
    from schemathesis.specs.openapi.checks import RejectedPositiveData
    if not isinstance(failure, RejectedPositiveData) or response.status_code != 422: return False
    try: return isinstance(json.loads(response.content)['detail'], str)
    except Exception: return False

def _decisions(label: str, status: int, body: bytes) -> int:
    "Audit rows a 2xx answer of operation `label` stands for."
    if status != 200: return 0
    if label in ('GET /clients/{client_id}/score', 'GET /clients/{client_id}/explanation', 'POST /score'): return 1
    if label == 'GET /clients/{client_id}/counter-offers': return 1  # one row, marked a simulation
    if label == 'POST /clients/{client_id}/what-if': return 2
    if label == 'POST /score/batch': return len(json.loads(body)['items'])
    return 0


@pytest.mark.filterwarnings('ignore:overflow encountered in cast:RuntimeWarning')  # generated numbers beyond float32
def test_schemathesis_no_server_errors(service):
    import schemathesis
    from hypothesis import HealthCheck, Phase, given, settings, strategies as st
    from hypothesis.errors import Unsatisfiable
    from schemathesis import GenerationMode
    from schemathesis.core.failures import Failure, FailureGroup
    from schemathesis.specs.openapi.checks import content_type_conformance, response_schema_conformance
    from api.app import create_app

    app = create_app(service, token=TOKEN)  # as deployed: the schema declares the bearer token, and the auth checks run
    schema = schemathesis.openapi.from_asgi('/openapi.json', app, headers=AUTH)
    # random ids and feature names almost never exist: half the positive cases use real ones, so the
    # 200 paths (scoring, explanations, what-if on real clients, histograms) are exercised too
    ids = [int(i) for i in service.ids]
    feats = [c for c in service.bundle.features.columns if c in service.pop.columns]
    cfg = dict(derandomize=True, database=None, deadline=None, phases=[Phase.explicit, Phase.generate],
               suppress_health_check=list(HealthCheck))
    counts, server_errors, bad_4xx, nonconforming, expected_rows, semantic = Counter(), [], [], [], 0, Counter()
    n0, t0 = service.audit.count(), time.perf_counter()
    ops = [r.ok() for r in schema.get_all_operations()]
    assert len(ops) >= 12, [op.label for op in ops]

    for op in ops:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            n = SLOW_OPERATIONS.get(op.label, POSITIVE_EXAMPLES) if mode == GenerationMode.POSITIVE else NEGATIVE_EXAMPLES

            @settings(max_examples=n, **cfg)
            @given(case=op.as_strategy(generation_mode=mode), real=st.sampled_from([True, False]),
                   cid=st.sampled_from(ids), f1=st.sampled_from(feats), f2=st.sampled_from(feats))
            def run(case, real, cid, f1, f2):
                nonlocal expected_rows
                if real and mode == GenerationMode.POSITIVE:
                    for where, key, value in (('path_parameters', 'client_id', cid), ('path_parameters', 'name', f1),
                                              ('query', 'client_id', cid), ('query', 'similar_to', cid),
                                              ('query', 'x', f1), ('query', 'y', f2)):
                        d = getattr(case, where)
                        if d and key in d: d[key] = value
                auth = AUTH if 'Authorization' in (case.headers or {}) else None  # the valid token where the case sends one
                response = case.call(headers=auth)
                counts[op.label, mode.value, response.status_code] += 1
                expected_rows += _decisions(op.label, response.status_code, response.content)
                where = f'{case.as_curl_command()}\n-> {response.status_code} {response.text[:300]}'
                if response.status_code >= 500: server_errors.append(where); return
                if response.status_code >= 400:
                    try: detail = json.loads(response.content)['detail']
                    except Exception: detail = None
                    if not detail: bad_4xx.append(where)
                try: case.validate_response(response, headers=auth)  # every check schemathesis has
                except (Failure, FailureGroup) as e:
                    fails = list(e.exceptions) if isinstance(e, FailureGroup) else [e]
                    if all(_semantic_422(f, response) for f in fails): semantic[op.label] += 1
                    else: nonconforming.append(f'{where}\n{str(e)[:1500]}')

            try: run()
            except Unsatisfiable: pass  # e.g. GET /health has no parameter to make invalid

    total, dt = sum(counts.values()), time.perf_counter() - t0
    by_status = Counter()
    for (_, _, s), v in counts.items(): by_status[s] += v
    print(f'schemathesis: {total} cases over {len(ops)} operations in {dt:.1f} s; statuses {dict(sorted(by_status.items()))}; '
          f'schema-valid requests refused by the service checks (422): {dict(semantic)}')
    for label in dict.fromkeys(op.label for op in ops):
        print(f'  {label:40s}', {f'{m}:{s}': v for (l, m, s), v in sorted(counts.items()) if l == label})
    assert not server_errors, f'{len(server_errors)} server error(s), e.g.:\n' + '\n\n'.join(server_errors[:5])
    assert not nonconforming, f'{len(nonconforming)} 2xx answers off their schema, e.g.:\n' + '\n\n'.join(nonconforming[:3])
    assert not bad_4xx, f'{len(bad_4xx)} 4xx answers without a detail, e.g.:\n' + '\n\n'.join(bad_4xx[:5])
    assert total >= MIN_CASES, f'only {total} generated cases'
    assert sum(v for (l, _, s), v in counts.items() if s == 200 and 'client_id' in l) >= 200, 'too few cases on real clients'
    assert service.audit.count() - n0 == expected_rows, 'the audit log does not hold every decision answered'


def test_service_errors_follow_openapi(service):
    "A 422 of the service (a value the feature code rejects) must match the 422 response the schema declares."
    import schemathesis
    from schemathesis.specs.openapi.checks import response_schema_conformance
    from api.app import create_app
    schema = schemathesis.openapi.from_asgi('/openapi.json', create_app(service, token=''))
    op = schema['/clients/{client_id}/what-if']['POST']
    case = op.Case(path_parameters={'client_id': int(service.ids[0])}, body={'overrides': {'CNT_CHILDREN': 2**40}},
                   media_type='application/json')
    response = case.call()
    assert response.status_code == 422
    case.validate_response(response, checks=[response_schema_conformance])


# ---- 3. 20,000 requests from 32 concurrent clients: all answered, all audited

N_REQUESTS, CONCURRENCY = 20_000, 32


def _plan(i: int, ids: list[int], bodies: list[dict]):
    "Request i of the mix: 1 in 200 POST /score (a real application), 10 in 200 explanations, the rest scores."
    k = i % 200
    if k == 0: b = bodies[(i // 200) % len(bodies)]; return 'POST', '/score', b, b['application']['SK_ID_CURR']
    cid = ids[(i * 7919) % len(ids)]  # a stride prime to the number of clients: every client, in a scattered order
    return ('GET', f'/clients/{cid}/explanation', None, cid) if k <= 10 else ('GET', f'/clients/{cid}/score', None, cid)


async def _load(port: int, n: int, concurrency: int, plan) -> dict:
    "Send requests 0..n-1 of `plan` from `concurrency` keep-alive connections; answers, failures, latencies."
    todo, answered, failed, lat = iter(range(n)), [], [], []

    async def worker():
        c = Conn(port)
        try:
            for i in todo:
                method, path, body, cid = plan(i)
                t = time.perf_counter()
                try: status, payload = await asyncio.wait_for(c.request(method, path, body), 60)
                except Exception as e: failed.append((i, path, repr(e))); continue
                lat.append(time.perf_counter() - t)
                if status != 200: failed.append((i, path, status, payload[:300])); continue
                answered.append((cid, json.loads(payload)['probability']))
        finally: c.close()

    t = time.perf_counter()
    await asyncio.gather(*[worker() for _ in range(concurrency)])
    return {'answered': answered, 'failed': failed, 'latency': lat, 'seconds': time.perf_counter() - t}


def test_20000_concurrent_requests_all_answered_and_audited(sample_bundle, clients_dir, tmp_path):
    db, ids, bodies = tmp_path/'audit.db', client_ids(clients_dir), known_applications(clients_dir, 20)
    with api_server(sample_bundle, clients_dir, db, tmp_path/'api.log') as (proc, port):
        r = asyncio.run(_load(port, N_REQUESTS, CONCURRENCY, lambda i: _plan(i, ids, bodies)))
        assert proc.poll() is None, 'the server died under load'
    lat = sorted(r['latency'])
    print(f"{N_REQUESTS:,} requests, {CONCURRENCY} clients: {r['seconds']:.1f} s, {N_REQUESTS / r['seconds']:.0f} req/s, "
          f"p50 {1e3 * lat[len(lat) // 2]:.1f} ms, p99 {1e3 * lat[int(len(lat) * .99)]:.1f} ms")
    assert not r['failed'], f"{len(r['failed'])} failed requests, e.g. {r['failed'][:5]}"
    assert len(r['answered']) == N_REQUESTS
    rows = audit_rows(db)
    assert len(rows) == N_REQUESTS, f'{len(rows)} audit rows for {N_REQUESTS} decisions answered'
    assert Counter(r['answered']) == Counter((c, p) for _, c, p in rows), 'audit rows differ from the decisions answered'
    assert Counter(route for route, _, _ in rows) == {'score': N_REQUESTS * 189 // 200, 'explanation': N_REQUESTS // 20,
                                                      'score-raw': N_REQUESTS // 200}


# ---- 4. SIGKILL under load: no decision answered is lost

KILL_CONCURRENCY, KILL_AFTER = 16, 1500  # decisions answered before the kill


async def _hammer_and_kill(port: int, pid: int, ids: list[int]) -> dict:
    answered, failed, killed = [], [], asyncio.Event()

    async def worker(w: int):  # sends until the server is gone
        c, i = Conn(port), w
        while True:
            cid = ids[(i * 7919) % len(ids)]; i += KILL_CONCURRENCY
            path = f'/clients/{cid}/explanation' if i % 10 == 0 else f'/clients/{cid}/score'
            try: status, payload = await asyncio.wait_for(c.request('GET', path), 30)
            except Exception as e: failed.append(type(e).__name__); return
            if status != 200: failed.append((path, status, payload[:300])); return
            answered.append((cid, json.loads(payload)['probability']))
            if len(answered) >= KILL_AFTER and not killed.is_set():
                os.kill(pid, signal.SIGKILL); killed.set()

    await asyncio.wait_for(asyncio.gather(*[worker(w) for w in range(KILL_CONCURRENCY)]), 120)
    return {'answered': answered, 'failed': failed, 'killed': killed.is_set()}


def test_sigkill_under_load_loses_no_answered_decision(sample_bundle, clients_dir, tmp_path):
    db, ids, log = tmp_path/'audit.db', client_ids(clients_dir), tmp_path/'api.log'
    port = free_port()
    proc = start_uvicorn('api.app:app', port, server_env(sample_bundle, clients_dir, db), log)
    try:
        wait_ready(proc, port, log)
        r = asyncio.run(_hammer_and_kill(port, proc.pid, ids))
        assert proc.wait(10) == -signal.SIGKILL
    finally: stop(proc)
    answered = Counter(r['answered'])
    print(f"SIGKILL after {len(r['answered'])} answered decisions; {len(r['failed'])} requests cut: {Counter(r['failed']).most_common(3)}")
    assert r['killed'] and r['failed'], 'the server was not killed while requests were in flight'
    assert all(isinstance(f, str) for f in r['failed']), f"non-200 answers before the kill: {[f for f in r['failed'] if not isinstance(f, str)][:5]}"

    with contextlib.closing(sqlite3.connect(db)) as c:  # opening replays the WAL the killed server left
        assert c.execute('PRAGMA integrity_check').fetchone()[0] == 'ok'
    rows = audit_rows(db)
    print(f'audit after the kill: {len(rows)} rows for {len(r["answered"])} answers')
    logged = Counter((c, p) for _, c, p in rows)
    missing = answered - logged
    assert not missing, f'{sum(missing.values())} answered decisions are not in the audit log, e.g. {list(missing)[:5]}'
    assert len(rows) >= len(r['answered'])
    # rows beyond the answers: decisions committed whose answer the kill cut off, at most one per client in flight
    assert len(rows) - len(r['answered']) <= KILL_CONCURRENCY

    with open(log, 'a') as f: f.write('\n--- restart ---\n')
    restart_and_score(lambda port: start_uvicorn('api.app:app', port, server_env(sample_bundle, clients_dir, db), log), log, db, rows, ids[0])


def restart_and_score(start, log: Path, db, rows: list, cid: int):
    "Start a server again on the audit log `db` with `start(port)`: it answers a score, and the log is `rows` plus that decision."
    port = free_port()
    proc = start(port)
    try:
        wait_ready(proc, port, log)
        status, payload = asyncio.run(_get_once(port, f'/clients/{cid}/score'))
        assert status == 200, payload
    finally: stop(proc)
    after = audit_rows(db)
    assert after[:len(rows)] == rows and len(after) == len(rows) + 1
    assert after[-1] == ('score', cid, json.loads(payload)['probability'])
