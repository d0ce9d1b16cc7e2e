"""`ocr6` stopped by a signal, as a supervisor (SIGTERM), a user (Ctrl-C: SIGINT) or a closed terminal (SIGHUP) stops it.

A service command takes the processes it started down with it (Voilà and its kernels: none is left
re-parented to init holding the port) and exits 0; a job prints one line, exits 128 + the signal's
number and leaves nothing half-written. Servers bind 127.0.0.1 only.
"""
import os, signal, socket, subprocess, time
from pathlib import Path
import pytest
from conftest import BIN, ocr6
from ocr6_scoring.cli import free_port

psutil = pytest.importorskip('psutil')
EXE = str(BIN/'ocr6')
DEAD_API = 'http://127.0.0.1:9'  # the dashboard starts without a live API (it says so in the page)


def _listening(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(1)
        return s.connect_ex(('127.0.0.1', port)) == 0


def _tree(pid: int) -> list:
    "The process `pid` and all its descendants (psutil processes: pid reuse cannot fool `is_running`)."
    try:
        p = psutil.Process(pid)
        return [p, *p.children(recursive=True)]
    except psutil.NoSuchProcess: return []


def _running(procs) -> list[str]:
    "Those of `procs` still running (a zombie awaits only its reaping), as 'pid command line'."
    out = []
    for p in procs:
        try:
            if p.status() != psutil.STATUS_ZOMBIE: out.append(f'{p.pid} {" ".join(p.cmdline())[:120]}')
        except psutil.NoSuchProcess: pass
    return out


def _default_signals():
    "In the child: the stop signals at their defaults, as a terminal or a service manager starts a command (a shell's background job ignores SIGINT)."
    for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP): signal.signal(s, signal.SIG_DFL)

def _start(tmp_path, *args) -> tuple[subprocess.Popen, Path]:
    log = tmp_path/'ocr6.log'
    with open(log, 'w') as out:  # its own session: the signal reaches the ocr6 process only, as from a supervisor
        p = subprocess.Popen([EXE, *map(str, args)], stdout=out, stderr=subprocess.STDOUT, start_new_session=True, cwd=tmp_path,
                             preexec_fn=_default_signals)
    return p, log


def _stopped_cleanly(proc, seen, sig, log, port) -> str:
    "Send `sig` to `proc`: it exits 0, every process of its tree `seen` is gone within 20 s and `port` is free; returns its output."
    os.kill(proc.pid, sig)
    try: rc = proc.wait(20)
    except subprocess.TimeoutExpired: pytest.fail(f'ocr6 still running 20 s after {sig.name}:\n{log.read_text()[-2000:]}')
    _, alive = psutil.wait_procs(list(seen.values()), timeout=20)
    assert not _running(alive), f'{sig.name}: left running: ' + '; '.join(_running(alive))
    assert not _listening(port), f'{sig.name}: port {port} still in use'
    text = log.read_text()
    assert rc == 0 and 'bin/ocr6"' not in text and 'ocr6_scoring/cli.py"' not in text, f'exit {rc}:\n{text[-3000:]}'  # no traceback of ocr6's
    return text


@pytest.mark.parametrize('sig', [signal.SIGTERM, signal.SIGINT, signal.SIGHUP], ids=['SIGTERM', 'SIGINT', 'SIGHUP'])
def test_dashboard_stops_voila_and_its_kernels(tmp_path, sig):
    port = free_port()
    proc, log = _start(tmp_path, 'dashboard', '--api-url', DEAD_API, '--port', port)
    seen = {}
    try:
        t0 = time.monotonic()
        while not _listening(port):  # Voilà is up
            assert proc.poll() is None, f'ocr6 dashboard exited {proc.returncode}:\n{log.read_text()[-3000:]}'
            assert time.monotonic() - t0 < 90, f'Voilà not listening on {port} after 90 s:\n{log.read_text()[-3000:]}'
            seen.update((p.pid, p) for p in _tree(proc.pid)); time.sleep(0.5)
        while len(seen) < 3 and time.monotonic() - t0 < 90:  # and its preheated kernel (ocr6 -> Voilà -> kernel)
            seen.update((p.pid, p) for p in _tree(proc.pid)); time.sleep(0.5)
        seen.update((p.pid, p) for p in _tree(proc.pid))
        assert len(seen) >= 3, f'no kernel under Voilà: {[" ".join(p.cmdline())[:80] for p in seen.values()]}'
        _stopped_cleanly(proc, seen, sig, log, port)  # (the output is Voilà's too: a kernel stopped mid-execution may log its own traceback)
    finally:  # a failing run leaves nothing behind either
        for p in [*seen.values(), *_tree(proc.pid)]:
            try: p.kill()
            except psutil.NoSuchProcess: pass


@pytest.mark.parametrize('sig', [signal.SIGTERM, signal.SIGINT, signal.SIGHUP], ids=['SIGTERM', 'SIGINT', 'SIGHUP'])
def test_serve_stops_cleanly(sample_bundle, clients_dir, tmp_path, sig):
    import httpx
    port = free_port()
    proc, log = _start(tmp_path, 'serve', '--model', sample_bundle, '--data-dir', clients_dir, '--port', port,
                       '--database-url', f"sqlite:///{tmp_path/'audit.db'}")
    seen = {}
    try:
        t0 = time.monotonic()
        while True:
            assert proc.poll() is None, f'ocr6 serve exited {proc.returncode}:\n{log.read_text()[-3000:]}'
            assert time.monotonic() - t0 < 120, f'the API did not answer on {port} after 120 s:\n{log.read_text()[-3000:]}'
            seen.update((p.pid, p) for p in _tree(proc.pid))
            try:
                if httpx.get(f'http://127.0.0.1:{port}/health', timeout=2).status_code == 200: break
            except httpx.HTTPError: pass
            time.sleep(0.5)
        text = _stopped_cleanly(proc, seen, sig, log, port)
        assert 'Traceback' not in text, text[-3000:]  # uvicorn stopped in order, in this process
    finally:
        for p in [*seen.values(), *_tree(proc.pid)]:
            try: p.kill()
            except psutil.NoSuchProcess: pass


@pytest.fixture(scope='module')
def synth_dir(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp('synth')/'data'
    ocr6('synth', '--out', d, '--n-clients', 2000, '--quiet', check=True)
    return d


@pytest.mark.parametrize('sig', [signal.SIGINT, signal.SIGTERM], ids=['SIGINT', 'SIGTERM'])
def test_interrupted_train_is_one_line_and_writes_nothing(synth_dir, tmp_path, sig):
    out = tmp_path/'models'/'model'
    p = subprocess.Popen([EXE, 'train', '--data-dir', synth_dir, '--out', out, '--quiet'], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True, start_new_session=True, preexec_fn=_default_signals)
    try:
        time.sleep(6)  # reading the data, building the features, tuning: far from done
        assert p.poll() is None, f'train ended before the signal ({p.returncode}):\n{p.stderr.read()[-3000:]}'
        kids = _tree(p.pid)
        os.kill(p.pid, sig)
        _, err = p.communicate(timeout=60)
    finally:
        if p.poll() is None: p.kill()
    assert 'Traceback' not in err, err[-3000:]
    assert err.strip().splitlines()[-1] == 'ocr6 train: interrupted; no bundle was written', err[-3000:]
    assert p.returncode == 128 + sig, (p.returncode, err[-3000:])
    assert not out.exists()
    assert not list(out.parent.glob(f'.{out.name}.*'))  # no temporary folder beside it
    _, alive = psutil.wait_procs(kids[1:], timeout=20)  # worker processes, if any, are gone too
    assert not _running(alive), _running(alive)


def test_bundle_write_interrupted_leaves_no_temporary_folder(tmp_path):
    "Ctrl-C while the bundle's files are being written: the temporary folder beside it is removed, no bundle appears."
    from ocr6_scoring.model import write_bundle
    class Interrupted(dict):  # the files to write; Ctrl-C comes after the first one is written
        def items(self):
            yield 'a.json', {'x': 1}
            raise KeyboardInterrupt
    with pytest.raises(KeyboardInterrupt): write_bundle(tmp_path/'model', Interrupted())
    assert sorted(p.name for p in tmp_path.iterdir()) == []
