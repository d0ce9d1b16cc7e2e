"""The audit log on each database the product supports: SQLite (the default) and a real PostgreSQL server.

- rows, columns and types as written, `tail`, `count`, group commits, a refused row failing only its own request;
- schema creation is idempotent and safe when several processes start at once, with the (client_id, ts) index;
- `ocr6 serve --workers 2` on PostgreSQL, SIGKILLed (supervisor and workers) after 20 s of load from several clients: every
  decision answered is in the log, and the restarted server answers;
- the database itself killed under load: the API answers 503 while it is away (never a decision it could not record, never a
  500), and answers again once it is back, without a restart; every decision answered is in the log.

PostgreSQL comes from the `postgres` fixture (a throwaway server, see ocr6_scoring.testing); servers listen on 127.0.0.1 only.
"""
from __future__ import annotations
import asyncio, json, os, signal, subprocess, sys, time
from collections import Counter
from datetime import datetime
from pathlib import Path
import pytest
from ocr6_scoring.cli import free_port
from ocr6_scoring.service import AuditLog
from ocr6_scoring.cli import stop_processes as stop
from ocr6_scoring.testing import Conn, audit_rows, client_ids, get_once as _get_once, start_serve, wait_ready
from test_reliability import restart_and_score

ROOT = Path(__file__).resolve().parents[1]
ROW = {'route': 'score', 'client_id': 7, 'model_version': 'v1', 'probability': .2, 'decision': 'refused', 'threshold': .1}


def test_rows_columns_types(audit_url):
    log = AuditLog(audit_url)
    try:
        log.write([{**ROW, 'reasons': ['Income: low — raises risk']}, {**ROW, 'client_id': 2**40, 'probability': 0.05, 'decision': 'granted'},
                   {**ROW, 'route': 'score-raw', 'client_id': None, 'request_hash': 'ab' * 32}])
        assert log.count() == 3
        t = log.tail(10)
        assert list(t.columns) == ['id', 'ts', 'route', 'client_id', 'request_hash', 'model_version', 'probability', 'decision', 'threshold', 'reasons']
        assert t.route.tolist() == ['score', 'score', 'score-raw'] and t.decision.tolist() == ['refused', 'granted', 'refused']
        assert t.client_id.iloc[1] == 2**40 and t.client_id.isna().iloc[2] and t.request_hash.iloc[2] == 'ab' * 32
        assert json.loads(t.reasons.iloc[0]) == ['Income: low — raises risk'] and t.reasons.isna().iloc[1]
        assert all(isinstance(x, float) for x in t.probability) and t.probability.tolist() == [.2, .05, .2]
        ts = [datetime.fromisoformat(x) for x in t.ts]
        assert all(x.utcoffset().total_seconds() == 0 for x in ts) and ts == sorted(ts)
        assert t.id.is_monotonic_increasing and t.id.is_unique
        with pytest.raises(ValueError, match=r"unknown column\(s\) \['client'\]"): log.write([{**ROW, 'client': 7}])
        assert log.count() == 3
    finally: log.close(); log.engine.dispose()


def test_group_commits_and_refused_rows(audit_url):
    log = AuditLog(audit_url)
    try:
        futs = [log.submit([ROW]), log.submit([{**ROW, 'probability': None}]), log.submit([ROW, {**ROW, 'client_id': 9}])]
        assert futs[0].result() is None and futs[2].result() is None
        with pytest.raises(Exception): futs[1].result()  # the database's NOT NULL: only that request fails
        assert log.count() == 3

        async def many(n=200):
            c0 = log.commits
            await asyncio.gather(*[log.write_async([{**ROW, 'client_id': 1000 + j}]) for j in range(n)])
            return log.commits - c0
        commits = asyncio.run(many())
        assert log.count() == 203
        assert commits < 200, f'{commits} commits for 200 requests queued together: no group commit'
        assert sorted(log.tail(200).client_id) == list(range(1000, 1200))
    finally: log.close(); log.engine.dispose()


CREATE = """
import sys
from ocr6_scoring.service import AuditLog
log = AuditLog(sys.argv[1]); log.write([{'route': 'score', 'client_id': int(sys.argv[2]), 'model_version': 'v', 'probability': .1,
                                        'decision': 'granted', 'threshold': .5}])
log.close()
"""


def test_schema_created_once_by_concurrent_processes(audit_url):
    "Four processes start on an empty database at once (like four API workers): one table, one index, every row kept."
    procs = [subprocess.Popen([sys.executable, '-c', CREATE, audit_url, str(k)], stderr=subprocess.PIPE, text=True) for k in range(4)]
    errs = [(p.wait(120), p.stderr.read()) for p in procs]
    assert all(rc == 0 for rc, _ in errs), [e[-1500:] for rc, e in errs if rc]
    log = AuditLog(audit_url)  # and once more on the existing schema: nothing changes
    try:
        import sqlalchemy as sa
        assert log.count() == 4 and sorted(log.tail(4).client_id) == [0, 1, 2, 3]
        ix = sa.inspect(log.engine).get_indexes('decisions')
        assert [(i['name'], i['column_names']) for i in ix] == [('decisions_client_ts', ['client_id', 'ts'])]
    finally: log.close(); log.engine.dispose()


# ---- the API on PostgreSQL under load: the server killed, then the database killed

async def _load(port: int, ids: list[int], seconds: float, clients: int, during=None) -> dict:
    "`clients` keep-alive clients asking scores and explanations for `seconds` (then `during()` once, if given, and on until the end)."
    answered, statuses, errors, t0 = [], Counter(), Counter(), time.monotonic()

    async def worker(w: int):
        c, i = Conn(port), w
        while time.monotonic() - t0 < seconds:
            cid = ids[(i * 7919) % len(ids)]; i += clients
            path = f'/clients/{cid}/explanation' if i % 10 == 0 else f'/clients/{cid}/score'
            try: status, payload = await asyncio.wait_for(c.request('GET', path), 30)
            except Exception as e:
                errors[type(e).__name__] += 1; c.close(); await asyncio.sleep(0.05); continue
            statuses[status] += 1
            if status == 200: answered.append((cid, json.loads(payload)['probability']))
            else: await asyncio.sleep(0.02)
        c.close()

    tasks = [asyncio.ensure_future(worker(w)) for w in range(clients)]
    if during is not None: await during()
    await asyncio.gather(*tasks)
    return {'answered': answered, 'statuses': statuses, 'errors': errors}


def _check_logged(url: str, answered: list) -> list:
    rows = audit_rows(url)
    missing = Counter(answered) - Counter((c, p) for _, c, p in rows)
    assert not missing, f'{sum(missing.values())} answered decisions are not in the audit log, e.g. {list(missing)[:5]}'
    return rows


def test_sigkill_of_two_workers_under_load_loses_no_answered_decision(sample_bundle, clients_dir, pg_url, tmp_path):
    ids, log, port = client_ids(clients_dir), tmp_path/'api.log', free_port()
    proc = start_serve(sample_bundle, clients_dir, pg_url, port, log, workers=2)
    try:
        wait_ready(proc, port, log)
        async def kill_after_20_s():
            await asyncio.sleep(20); os.killpg(proc.pid, signal.SIGKILL)  # the supervisor and both workers, mid-request
        r = asyncio.run(_load(port, ids, 25, 8, kill_after_20_s))
        proc.wait(10)
    finally: stop(proc)
    print(f"SIGKILL after {len(r['answered'])} answers ({dict(r['statuses'])}), then {dict(r['errors'])}")
    assert set(r['statuses']) == {200}, f"non-200 answers before the kill: {r['statuses']}"
    assert len(r['answered']) > 100 and r['errors'], 'the server was not under load when it was killed'
    rows = _check_logged(pg_url, r['answered'])
    assert len(rows) - len(r['answered']) <= 8  # committed, answer cut by the kill: at most one per client in flight

    restart_and_score(lambda port: start_serve(sample_bundle, clients_dir, pg_url, port, log, workers=2), log, pg_url, rows, ids[0])


def test_database_killed_under_load_503_then_recovers(sample_bundle, clients_dir, tmp_path, postgres):
    "PostgreSQL SIGKILLed while 6 clients load the API: 503 while it is away, 200 again once it restarts, nothing answered lost."
    from ocr6_scoring.testing import ThrowawayPostgres
    ids, log, port = client_ids(clients_dir), tmp_path/'api.log', free_port()
    with ThrowawayPostgres() as pg:  # a server of its own: killing it must not disturb the other tests' server
        url = pg.create_database('audit')
        proc = start_serve(sample_bundle, clients_dir, url, port, log)
        try:
            wait_ready(proc, port, log)
            async def crash_and_restart():
                await asyncio.sleep(5); pg.kill()
                await asyncio.sleep(3); await asyncio.get_running_loop().run_in_executor(None, pg.restart)
            r = asyncio.run(_load(port, ids, 16, 6, crash_and_restart))
            n_before = len(r['answered'])
            status, payload = asyncio.run(_get_once(port, f'/clients/{ids[0]}/score'))  # after the outage, same server process
            assert proc.poll() is None, 'the API died with its database'
        finally: stop(proc)
        print(f"statuses {dict(r['statuses'])}, connection errors {dict(r['errors'])}")
        assert status == 200, payload
        assert r['statuses'][503] > 0, 'no request met the outage'
        assert set(r['statuses']) <= {200, 503}, f"answers other than 200/503 during the outage: {r['statuses']}"
        assert not r['errors'], f"connections cut instead of a 503: {r['errors']}"
        rows = _check_logged(url, r['answered'] + [(ids[0], json.loads(payload)['probability'])])
        assert len(rows) >= n_before + 1
        assert json.loads(payload)['probability'] == rows[-1][2]
