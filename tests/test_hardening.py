"Regression tests for the defects an outside attack found (issue 19): each failed before its fix."
import contextlib, json, os, shutil
from pathlib import Path
import pytest
from conftest import ocr6

def test_force_replaces_only_a_bundle(sample_dir, sample_bundle, tmp_path):
    "`ocr6 train --force` deleted any folder given as --out; it may only replace a folder holding a bundle and nothing else."
    mine = tmp_path/'mine'; mine.mkdir(); (mine/'thesis.docx').write_text('four years of work')
    r = ocr6('train', '--data-dir', sample_dir, '--out', mine, '--force', '--profile', 'smoke', '--quiet')
    assert r.returncode != 0 and 'not a model bundle, refusing to replace it' in r.stdout + r.stderr
    assert (mine/'thesis.docx').read_text() == 'four years of work'
    b = tmp_path/'b'; shutil.copytree(sample_bundle, b); (b/'notes.txt').write_text('mine')
    from ocr6_scoring.model import check_out, BundleError
    with pytest.raises(BundleError, match='holds notes.txt besides its bundle files'): check_out(b, overwrite=True)
    (b/'notes.txt').unlink(); assert check_out(b, overwrite=True) == b  # a bundle alone may be replaced

def test_out_inside_the_data_folder_is_refused(tmp_path):
    "`--out` equal to `--data-dir` deleted the data; a bundle folder equal to or inside the data folder is refused."
    data = tmp_path/'data'; data.mkdir(); (data/'application_train.csv').write_text('SK_ID_CURR,TARGET\n1,0\n')
    for out, msg in ((data, 'not a model bundle, refusing to replace it'), (data/'bundle', 'may not be the data folder')):
        r = ocr6('train', '--data-dir', data, '--out', out, '--force', '--quiet')
        assert r.returncode != 0 and msg in r.stdout + r.stderr, (r.stdout, r.stderr)
    assert (data/'application_train.csv').exists() and not (data/'bundle').exists()

@pytest.mark.parametrize('files,msg', [({'../../../../etc/passwd': '0' * 64}, 'not a plain file name'),
                                       ({'/etc/passwd': '0' * 64}, 'not a plain file name'),
                                       ({'../../nowhere': '0' * 64}, 'not a plain file name'),
                                       (['model.ubj'], 'malformed'), ('x', 'malformed')])
def test_manifest_paths_stay_inside(sample_bundle, tmp_path, files, msg):
    "Manifest entries outside the folder were read (the error differed by whether the file existed); a list crashed."
    from ocr6_scoring.tracking import Bundle
    from ocr6_scoring.model import BundleError
    b = tmp_path/'b'; shutil.copytree(sample_bundle, b)
    m = json.loads((b/'manifest.json').read_text()); m['files'] = files if not isinstance(files, dict) else {**m['files'], **files}
    (b/'manifest.json').write_text(json.dumps(m))
    with pytest.raises(BundleError, match=msg): Bundle.load(b)

def test_symlinked_bundle_file_refused(sample_bundle, tmp_path):
    "A model.ubj symlinked to a file outside the folder was followed."
    from ocr6_scoring.tracking import Bundle
    from ocr6_scoring.model import BundleError
    b = tmp_path/'b'; shutil.copytree(sample_bundle, b)
    outside = tmp_path/'elsewhere.ubj'; shutil.move(b/'model.ubj', outside); (b/'model.ubj').symlink_to(outside)
    with pytest.raises(BundleError, match='model.ubj is a symbolic link'): Bundle.load(b)

def _copy_signed(src: Path, dst: Path, key: str) -> Path:
    "The bundle `src` written again under a signing key (same files and manifest entries)."
    from ocr6_scoring.model import read_bundle, write_bundle
    manifest, blobs = read_bundle(src)
    meta = {k: v for k, v in manifest.items() if k not in ('files', 'versions', 'created')}
    return write_bundle(dst, blobs, meta, key=key)

def test_version_covers_every_file(sample_bundle, tmp_path):
    "Editing decision.json and recomputing its sha256 kept the model_version (sha256 of model.ubj): audit rows could not tell."
    import hashlib
    from ocr6_scoring.tracking import Bundle
    b = tmp_path/'b'; shutil.copytree(sample_bundle, b)
    v0 = Bundle.load(b).version
    d = json.loads((b/'decision.json').read_text()); d['threshold'] = 0.999
    data = (json.dumps(d, indent=1) + '\n').encode(); (b/'decision.json').write_bytes(data)
    m = json.loads((b/'manifest.json').read_text()); m['files']['decision.json'] = hashlib.sha256(data).hexdigest()
    (b/'manifest.json').write_text(json.dumps(m, indent=1))
    tampered = Bundle.load(b)  # consistent hashes: loads without a key ...
    assert tampered.threshold == 0.999 and tampered.version != v0  # ... but under another version

def test_signed_bundles(sample_bundle, clients_dir, tmp_path, monkeypatch):
    "With OCR6_BUNDLE_KEY set, an unsigned bundle, a re-hashed edit or another key's signature is refused at load (and by the service)."
    import hashlib
    from ocr6_scoring.tracking import Bundle
    from ocr6_scoring.model import BundleError
    from ocr6_scoring.service import Service
    signed = _copy_signed(sample_bundle, tmp_path/'signed', 'k1')
    other = _copy_signed(sample_bundle, tmp_path/'other', 'k2')
    monkeypatch.setenv('OCR6_BUNDLE_KEY', 'k1')
    assert Bundle.load(signed).version
    with pytest.raises(BundleError, match='unsigned bundle'): Service(sample_bundle, clients_dir, f"sqlite:///{tmp_path/'a.db'}")
    d = json.loads((signed/'decision.json').read_text()); d['threshold'] = 0.999
    data = (json.dumps(d) + '\n').encode(); (signed/'decision.json').write_bytes(data)
    m = json.loads((signed/'manifest.json').read_text()); m['files']['decision.json'] = hashlib.sha256(data).hexdigest()
    (signed/'manifest.json').write_text(json.dumps(m, indent=1))
    with pytest.raises(BundleError, match='manifest.sig does not match manifest.json'): Bundle.load(signed)
    with pytest.raises(BundleError, match='signed with another key'): Bundle.load(other)

@pytest.fixture
def served(sample_bundle, clients_dir, tmp_path):
    "`ocr6 serve` on 127.0.0.1 with short guard timeouts (2 s); yields its port."
    import subprocess, sys
    from ocr6_scoring.cli import free_port, stop_processes, wait_http
    port, log = free_port(), tmp_path/'serve.log'
    env = {**os.environ, 'OCR6_HEAD_TIMEOUT': '2', 'OCR6_BODY_TIMEOUT': '2', 'OCR6_API_TOKEN': ''}
    exe = Path(sys.executable).parent/'ocr6'
    proc = subprocess.Popen([str(exe), 'serve', '--model', str(sample_bundle), '--data-dir', str(clients_dir), '--host', '127.0.0.1',
                             '--port', str(port), '--database-url', f"sqlite:///{tmp_path/'audit.db'}"],
                            stdout=open(log, 'w'), stderr=subprocess.STDOUT, start_new_session=True, env=env)
    try:
        wait_http(f'http://127.0.0.1:{port}/health', proc, log, 'the API', timeout=300)
        yield port
    finally: stop_processes(proc)

def _closed(s, wait: float) -> bool:
    "True if the server closed the socket within `wait` seconds (EOF or reset), reading and ignoring any answer first."
    import socket, time
    s.settimeout(0.5); end = time.monotonic() + wait
    while time.monotonic() < end:
        try:
            if s.recv(65536) == b'': return True
        except socket.timeout: continue
        except (ConnectionResetError, BrokenPipeError): return True
    return False

def test_idle_and_half_sent_connections_are_closed(served):
    "50 of 50 idle or half-sent connections were still open after 120 s; a 1 MB Authorization header was read and processed."
    import socket, httpx
    idle = [socket.create_connection(('127.0.0.1', served)) for _ in range(10)]
    half = [socket.create_connection(('127.0.0.1', served)) for _ in range(10)]
    for s in half: s.sendall(b'GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ')  # a request head never finished
    slow = socket.create_connection(('127.0.0.1', served))  # a body that never arrives whole
    slow.sendall(b'POST /score HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"appl')
    assert all(_closed(s, 8) for s in idle + half)
    slow.settimeout(8); answer = b''
    while chunk := slow.recv(65536): answer += chunk  # until the server closes it
    assert answer.startswith(b'HTTP/1.1 408') and b'not received within 2 s' in answer
    big = socket.create_connection(('127.0.0.1', served))
    with contextlib.suppress(BrokenPipeError, ConnectionResetError):
        big.sendall(b'GET /model HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ' + b'x' * (1 << 20) + b'\r\n\r\n')
    big.settimeout(8)
    try: answer = big.recv(65536)
    except ConnectionResetError: answer = b''
    assert answer.startswith(b'HTTP/1.1 400') or answer == b'', answer[:200]  # refused at the 16 KiB head limit, never processed
    for s in idle + half + [slow, big]: s.close()
    assert httpx.get(f'http://127.0.0.1:{served}/health').json() == {'status': 'ok'}  # and the server is still answering
