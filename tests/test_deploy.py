"""The deployment recipe (deploy/: Dockerfile, compose.yaml, initdb/, .env.example), issue 22 part 5.

No container engine on these machines can pull a base image, so the image is never built and compose never runs
here. What is checked instead:

- statically: every service has a health check; every published port is bound to 127.0.0.1; the API listens on
  0.0.0.0 only with OCR6_API_TOKEN required; the Dockerfile's default command is an `ocr6 serve` the parser
  accepts and that refuses to start without a token; it copies sources only and runs as a non-root user; the
  environment names the file sets are ones the code (or MLflow, or the postgres image) reads; every `${VAR}` of
  the file is in .env.example; the databases the URLs name are the ones the postgres service creates;
- live: the `mlflow`, `api` and `dashboard` services' commands, as written in compose.yaml, run without
  containers against the tests' real PostgreSQL server, in the order of their `depends_on`, each started once
  the health check commands of the services it depends on pass. Only what a container engine would provide is
  substituted: service host names -> 127.0.0.1, container ports -> free local ports, 0.0.0.0 -> 127.0.0.1 (tests
  bind loopback only), volume targets -> test folders (the bind mounts' sources come from the test's `.env`
  values), and the database URLs' user and password -> the throwaway server's trust-authenticated user.
"""
from __future__ import annotations
import json, os, re, shutil, subprocess, sys, time
from pathlib import Path
import httpx, pytest, yaml
from ocr6_scoring.cli import build_parser, free_port, stop_processes, wait_until

ROOT = Path(__file__).resolve().parents[1]
DEPLOY = ROOT/'deploy'
BIN = Path(sys.executable).parent  # the venv: the image's /usr/local/bin
LIVE = ('mlflow', 'api', 'dashboard')  # the services run from the app image
POSTGRES_IMAGE_ENV = {'POSTGRES_USER', 'POSTGRES_PASSWORD', 'POSTGRES_DB'}  # documented by the postgres image


def compose() -> dict: return yaml.safe_load((DEPLOY/'compose.yaml').read_text(encoding='utf-8'))

# ---- compose's variable interpolation ($$, $VAR, ${VAR}, ${VAR:-default}, ${VAR-default}, ${VAR:?error}, ${VAR?error})

_VAR = re.compile(r'\$\$|\$\{([A-Za-z_]\w*)(?:(:?)([-?])([^}]*))?\}|\$([A-Za-z_]\w*)')

def variables(text: str) -> set[str]: return {m[1] or m[5] for m in _VAR.finditer(text) if m[0] != '$$'}

def interpolate(value, env: dict):
    "`value` (a compose document or part of one) with its variables replaced from `env`, as `docker compose` does."
    if isinstance(value, dict): return {k: interpolate(v, env) for k, v in value.items()}
    if isinstance(value, list): return [interpolate(v, env) for v in value]
    if not isinstance(value, str): return value
    def one(m):
        if m[0] == '$$': return '$'
        name, colon, op, arg = m[1] or m[5], m[2], m[3], m[4]
        v = env.get(name)
        missing = v is None or (colon == ':' and v == '')
        if op == '-': return arg if missing else v
        if op == '?' and missing: raise ValueError(f'required variable {name} is missing: {arg}')
        return v or ''
    return _VAR.sub(one, value)

def environment(svc: dict) -> dict:
    env = svc.get('environment') or {}
    return dict(e.split('=', 1) for e in env) if isinstance(env, list) else {k: '' if v is None else str(v) for k, v in env.items()}

# ---- the Dockerfile

def dockerfile() -> list[tuple[str, str]]:
    "The Dockerfile's instructions as (KEYWORD, arguments), continuation lines joined, comments dropped."
    out, cur = [], ''
    for line in (DEPLOY/'Dockerfile').read_text(encoding='utf-8').splitlines():
        if not cur and (not line.strip() or line.lstrip().startswith('#')): continue
        cur += line.rstrip()
        if cur.endswith('\\'): cur = cur[:-1] + ' '; continue
        kw, _, rest = cur.strip().partition(' '); out.append((kw.upper(), rest.strip())); cur = ''
    return out

def dockerfile_env() -> dict:
    env = {}
    for kw, rest in dockerfile():
        if kw == 'ENV': env.update(kv.split('=', 1) for kv in rest.split())
    return env

def exec_form(rest: str) -> list[str]:
    argv = json.loads(rest); assert isinstance(argv, list) and all(isinstance(a, str) for a in argv), rest
    return argv

# ---- static checks

def test_every_service_has_a_health_check():
    c = compose()
    assert set(c['services']) == {'postgres', 'mlflow', 'api', 'dashboard'}
    for name, svc in c['services'].items():
        test = svc.get('healthcheck', {}).get('test')
        assert isinstance(test, list) and test[0] == 'CMD' and len(test) > 1, f'{name}: a healthcheck in exec form'
    assert {n for n, s in c['services'].items() if s.get('build')} == set(LIVE)  # one image for the three


def test_ports_published_on_loopback_only_and_match_the_commands():
    c = compose()
    assert 'ports' not in c['services']['postgres']  # reached by the other services only
    for name in LIVE:
        svc = c['services'][name]; ports = svc.get('ports') or []
        assert ports, f'{name}: published for the reverse proxy'
        for p in ports:
            host, _, rest = str(p).partition(':')
            assert host == '127.0.0.1', f'{name}: {p} must be published on 127.0.0.1 only (the TLS proxy faces the network)'
            published, container = rest.split(':')
            cmd = svc['command']; assert cmd[cmd.index('--port') + 1] == container, f'{name}: {p} vs its --port'
            hc = ' '.join(svc['healthcheck']['test'])
            assert f'127.0.0.1:{container}/' in hc, f'{name}: its health check asks its own port'


def test_api_listens_beyond_loopback_only_with_a_required_token():
    c, parser = compose(), build_parser()
    api = c['services']['api']; cmd = api['command']
    assert cmd[:2] == ['ocr6', 'serve'] and cmd[cmd.index('--host') + 1] == '0.0.0.0'
    assert re.fullmatch(r'\$\{OCR6_API_TOKEN:\?[^}]+\}', environment(api)['OCR6_API_TOKEN'])
    assert re.fullmatch(r'\$\{OCR6_BUNDLE_KEY:\?[^}]+\}', environment(api)['OCR6_BUNDLE_KEY'])
    env = dict(POSTGRES_PASSWORD='p', OCR6_API_TOKEN='t', OCR6_BUNDLE_KEY='k', BUNDLE_DIR='/b', CLIENTS_DIR='/c')
    for missing in ('OCR6_API_TOKEN', 'OCR6_BUNDLE_KEY', 'POSTGRES_PASSWORD'):
        with pytest.raises(ValueError, match=missing): interpolate(c, {k: v for k, v in env.items() if k != missing})
    full = interpolate(c, env)
    assert full['services']['api']['command'][full['services']['api']['command'].index('--workers') + 1] == '2'  # default
    for name in ('api', 'dashboard'):  # the ocr6 commands are ones the parser accepts
        args = parser.parse_args(full['services'][name]['command'][1:])
        assert args.host == '0.0.0.0'
    assert full['services']['dashboard']['environment']['OCR6_API_TOKEN'] == 't'  # the dashboard calls the API with it


def test_dockerfile_sources_only_non_root_default_command_is_the_api():
    instr = dockerfile(); kws = [k for k, _ in instr]
    assert instr[0] == ('FROM', 'python:3.11-slim')
    copies = [r.split() for k, r in instr if k == 'COPY']
    sources = {s.rstrip('/') for c in copies for s in c[:-1] if not s.startswith('--')}
    assert sources == {'settings.ini', 'setup.py', 'README.md', 'ocr6_scoring', 'api', 'dashboards'}, sources
    assert 'ADD' not in kws
    from ocr6_scoring.dashboard import ADVISOR_NOTEBOOK  # served from the source tree: editable install, dashboards/ copied
    assert ADVISOR_NOTEBOOK.relative_to(ROOT).parts[0] in sources
    assert any(k == 'RUN' and re.search(r'pip install -e \.(\s|$)', r) for k, r in instr)
    users = [r for k, r in instr if k == 'USER']
    assert users and users[-1] not in ('root', '0') and kws.index('USER') < kws.index('CMD')
    secret = re.compile(r'TOKEN|KEY|PASSWORD|SECRET', re.I)
    assert not [r for k, r in instr if k in ('ENV', 'ARG') and secret.search(r)], 'no secret baked into the image'
    ignore = [l.strip() for l in (DEPLOY/'Dockerfile.dockerignore').read_text().splitlines() if l.strip() and not l.startswith('#')]
    assert ignore[0] == '**' and all(f'!{s}' in ignore or f'!{s}/' in ignore for s in sources)  # only the sources go to the builder
    cmd = exec_form(dict(instr)['CMD'])
    assert cmd[:2] == ['ocr6', 'serve']
    args = build_parser().parse_args(cmd[1:])
    assert (args.host, args.port, args.model, args.data_dir) == ('0.0.0.0', 8000, '/srv/model', '/srv/data')
    hc = dict(instr)['HEALTHCHECK']; probe = exec_form(hc[hc.index('CMD') + 3:].strip())
    assert probe[:2] == ['python', '-c'] and 'urllib' in probe[2] and '127.0.0.1:8000/health' in probe[2]
    # the default command on its own (no token in the environment) refuses to start: exit 2 before loading anything
    env = {k: v for k, v in os.environ.items() if k != 'OCR6_API_TOKEN'}
    r = subprocess.run([shutil.which('ocr6', path=str(BIN)), *cmd[1:]], env=env, capture_output=True, text=True, timeout=60)
    assert r.returncode == 2 and 'OCR6_API_TOKEN' in r.stderr, r.stderr


def _source_text(*folders) -> str:
    return '\n'.join(p.read_text(encoding='utf-8', errors='replace') for f in folders for p in Path(f).rglob('*.py'))


def test_environment_names_are_ones_the_code_reads():
    c = compose()
    ours = _source_text(ROOT/'api', ROOT/'ocr6_scoring')
    import importlib.util
    theirs = _source_text(Path(importlib.util.find_spec('mlflow').submodule_search_locations[0])/'cli')
    for name, svc in c['services'].items():
        for var in environment(svc):
            if name == 'postgres': assert var in POSTGRES_IMAGE_ENV, var
            elif var.startswith('OCR6_'): assert re.search(rf"['\"]{var}['\"]", ours), f'{name}: {var} is read nowhere in api/ or ocr6_scoring/'
            elif var.startswith('MLFLOW_'): assert f'"{var}"' in theirs, f'{name}: {var} is not an mlflow CLI variable'
            else: raise AssertionError(f'{name}: unexpected variable {var}')
    assert set(dockerfile_env()) <= {'PYTHONUNBUFFERED', 'PYTHONDONTWRITEBYTECODE', 'PIP_DISABLE_PIP_VERSION_CHECK'}
    example = (DEPLOY/'.env.example').read_text(encoding='utf-8')
    listed = set(re.findall(r'^#?\s*([A-Z_][A-Z0-9_]*)=', example, re.M))
    used = variables((DEPLOY/'compose.yaml').read_text(encoding='utf-8'))
    assert used <= listed, f'in compose.yaml but not in .env.example: {used - listed}'
    for var in used:  # the README's Deploying section names every variable of the file
        assert var in (ROOT/'README.md').read_text(encoding='utf-8'), f'README.md does not mention {var}'


def _databases(c: dict) -> tuple[str, set[str]]:
    "The postgres service's POSTGRES_DB and the databases its init scripts create."
    init = set()
    for p in sorted((DEPLOY/'initdb').glob('*.sql')): init |= set(re.findall(r'CREATE DATABASE (\w+)', p.read_text(), re.I))
    return environment(c['services']['postgres'])['POSTGRES_DB'], init


def test_audit_log_and_mlflow_use_databases_postgres_creates():
    from sqlalchemy.engine import make_url
    c = interpolate(compose(), dict(POSTGRES_PASSWORD='p', OCR6_API_TOKEN='t', OCR6_BUNDLE_KEY='k', BUNDLE_DIR='/b', CLIENTS_DIR='/c'))
    main, init = _databases(c); pg_user = c['services']['postgres']['environment']['POSTGRES_USER']
    audit = make_url(c['services']['api']['environment']['OCR6_DATABASE_URL'])
    store = make_url(c['services']['mlflow']['environment']['MLFLOW_BACKEND_STORE_URI'])
    for u in (audit, store): assert (u.drivername, u.host, u.port, u.username, u.password) == ('postgresql+psycopg', 'postgres', 5432, pg_user, 'p')
    assert audit.database == main and store.database in init and audit.database != store.database
    vols = c['services']['postgres']['volumes']
    assert './initdb:/docker-entrypoint-initdb.d:ro' in vols and any(v.endswith(':/var/lib/postgresql/data') for v in vols)

# ---- live: the services' commands without containers

def _pg_tool(name: str) -> str:
    from ocr6_scoring.testing import pg_bin
    return str(pg_bin()/name)


class Deployment:
    "What a container engine would provide to the services of compose.yaml, on this machine."
    def __init__(self, c: dict, postgres, tmp: Path, env: dict):
        self.c, self.pg, self.tmp = interpolate(c, env), postgres, tmp
        self.ports = {n: (int(str(s['ports'][0]).split(':')[-1]), free_port()) for n, s in self.c['services'].items() if s.get('ports')}
        self.ports['postgres'] = (5432, postgres.port)
        self.pg_user = self.c['services']['postgres']['environment']['POSTGRES_USER']

    def volumes(self, name: str) -> dict[str, str]:
        "Container path -> local folder: a bind mount's source as given, a named volume in the test folder."
        out = {}
        for v in self.c['services'][name].get('volumes') or []:
            src, dst = v.split(':')[:2]
            if not src.startswith(('/', '.')): src = self.tmp/'volumes'/src; src.mkdir(parents=True, exist_ok=True)
            out[dst] = str(src)
        return out

    def local(self, name: str, s: str) -> str:
        "One command argument or environment value of service `name` as it runs here."
        from sqlalchemy.engine import make_url
        if s.startswith('postgresql'):
            u = make_url(s); assert (u.host, u.port, u.username) == ('postgres', 5432, self.pg_user), s
            # the compose user and password do not exist on the throwaway server (trust authentication as its
            # own user): the URL is rebuilt on it, same driver and database
            return self.pg.url(u.database, u.drivername.partition('+')[2] or None)
        for svc, (cport, lport) in self.ports.items():  # other services by name, this one by loopback
            s = s.replace(f'//{svc}:{cport}', f'//127.0.0.1:{lport}')
            if svc == name: s = s.replace(f'//127.0.0.1:{cport}/', f'//127.0.0.1:{lport}/')
        for dst, src in self.volumes(name).items():
            if s == dst or s.startswith(dst + '/'): s = src + s[len(dst):]
        return '127.0.0.1' if s == '0.0.0.0' else s

    def argv(self, name: str, argv: list[str]) -> list[str]:
        out = [self.local(name, a) for a in argv]
        for i in range(1, len(out)):
            if argv[i - 1] == '--port' and name in self.ports: out[i] = str(self.ports[name][1])
        exe = shutil.which(out[0], path=os.pathsep.join([str(BIN), '/usr/local/bin', '/usr/bin', '/bin']))
        assert exe, f'{name}: {out[0]} is not installed'
        return [exe, *out[1:]]

    def env(self, name: str) -> dict:
        "The image's ENV, the service's environment, and what the image's user has (PATH, HOME, LANG)."
        home = self.tmp/'home'/name; home.mkdir(parents=True, exist_ok=True)
        env = {'PATH': os.pathsep.join([str(BIN), '/usr/local/bin', '/usr/bin', '/bin']), 'HOME': str(home), 'LANG': 'C.UTF-8',
               **dockerfile_env()}
        env.update({k: self.local(name, v) for k, v in (self.c['services'][name].get('environment') or {}).items()})
        return env

    def healthy(self, name: str) -> bool:
        test = self.c['services'][name]['healthcheck']['test'][1:]
        if name == 'postgres':  # in its container pg_isready finds the server on the default socket
            argv = [_pg_tool(test[0]), *test[1:], '-h', '127.0.0.1', '-p', str(self.pg.port)]
        else: argv = self.argv(name, test)
        return subprocess.run(argv, env=self.env(name), capture_output=True, timeout=10).returncode == 0

    def init_database(self):
        "What the postgres image does on an empty data volume: create POSTGRES_DB, then run initdb/*.sql."
        main, _ = _databases(self.c); self.pg.create_database(main)
        for p in sorted((DEPLOY/'initdb').glob('*.sql')):
            subprocess.run([_pg_tool('psql'), '-v', 'ON_ERROR_STOP=1', '--no-psqlrc', '-h', '127.0.0.1', '-p', str(self.pg.port),
                            '-U', self.pg.user, '-d', main, '-f', str(p)], check=True, capture_output=True, timeout=60)


def _kernels(pid: int) -> list:
    import psutil
    return [p for p in psutil.Process(pid).children(recursive=True) if 'ipykernel' in ' '.join(p.cmdline())]


def test_compose_services_run_without_containers(postgres, sample_bundle, clients_dir, tmp_path):
    from sqlalchemy import create_engine, text
    from ocr6_scoring.model import MANIFEST, SIGNATURE, sign_manifest
    import pandas as pd, psutil
    t0 = time.monotonic()
    token, key = 'deploy-test-token', 'deploy-test-bundle-key'
    bundle = tmp_path/'bundle'; shutil.copytree(sample_bundle, bundle)  # signed with the key, as `ocr6 train` does when it is set
    (bundle/SIGNATURE).write_text(sign_manifest((bundle/MANIFEST).read_bytes(), key.encode()) + '\n')
    env = dict(POSTGRES_PASSWORD='not-used-here', OCR6_API_TOKEN=token, OCR6_BUNDLE_KEY=key,  # deploy/.env
               BUNDLE_DIR=str(bundle), CLIENTS_DIR=str(clients_dir))
    d = Deployment(compose(), postgres, tmp_path, env)
    d.init_database()
    assert d.healthy('postgres')
    workdir = tmp_path/'app'; workdir.mkdir()  # the image's WORKDIR: not writable by its user, so nothing may be written there
    procs, started, logs = {}, {'postgres'}, {n: tmp_path/f'{n}.log' for n in LIVE}
    deadline = t0 + 240
    try:
        while started != {'postgres', *LIVE}:  # compose's order: a service starts once the services it depends on are healthy
            assert time.monotonic() < deadline, f'not started in time: {set(LIVE) - started}'
            ready = [n for n in LIVE if n not in started and all(
                     dep in started and (dep == 'postgres' or d.healthy(dep)) for dep in d.c['services'][n].get('depends_on', {}))]
            for n in ready:
                procs[n] = subprocess.Popen(d.argv(n, d.c['services'][n]['command']), env=d.env(n), cwd=workdir,
                                            stdout=open(logs[n], 'w'), stderr=subprocess.STDOUT, start_new_session=True)
                started.add(n); print(f'{time.monotonic() - t0:5.1f} s  started {n}')
            if not ready:
                for n, p in procs.items():
                    if p.poll() is not None: raise AssertionError(f'{n} exited ({p.returncode}):\n{logs[n].read_text()[-3000:]}')
                time.sleep(0.5)
        for n in LIVE:  # every health check passes (the one of compose.yaml, and the Dockerfile's for the API)
            wait_until(lambda: d.healthy(n), procs[n], logs[n], n, timeout=180, interval=0.5)
            print(f'{time.monotonic() - t0:5.1f} s  {n} healthy')
        hc = dict(dockerfile())['HEALTHCHECK']; probe = exec_form(hc[hc.index('CMD') + 3:].strip())
        assert subprocess.run(d.argv('api', probe), env=d.env('api'), timeout=10).returncode == 0

        # the API: health without token, scores with it only, each decision in PostgreSQL's audit log
        api = f"http://127.0.0.1:{d.ports['api'][1]}"
        assert httpx.get(f'{api}/health').json() == {'status': 'ok'}
        cid = int(pd.read_csv(clients_dir/'application_test.csv', usecols=['SK_ID_CURR'], nrows=1).iloc[0, 0])
        assert httpx.get(f'{api}/clients/{cid}/score').status_code == 401
        r = httpx.get(f'{api}/clients/{cid}/score', headers={'Authorization': f'Bearer {token}'}, timeout=30)
        assert r.status_code == 200 and r.json()['decision'] in ('granted', 'refused'), r.text
        workers = [p for p in psutil.Process(procs['api'].pid).children() if 'spawn_main' in ' '.join(p.cmdline())]
        assert len(workers) == 2  # --workers ${OCR6_WORKERS:-2}
        audit = create_engine(d.local('api', d.c['services']['api']['environment']['OCR6_DATABASE_URL']))
        with audit.connect() as con:
            rows = con.execute(text('SELECT route, client_id, decision, model_version FROM decisions WHERE client_id = :c'), {'c': cid}).all()
        audit.dispose()
        assert ('score', cid, r.json()['decision'], r.json()['model_version']) in [tuple(x) for x in rows], rows

        # MLflow: health, the REST API, its store in PostgreSQL, artefacts in the artefacts volume, host-header check
        mlf = f"http://127.0.0.1:{d.ports['mlflow'][1]}"
        assert httpx.get(f'{mlf}/health').status_code == 200
        found = httpx.post(f'{mlf}/api/2.0/mlflow/experiments/search', json={'max_results': 10}, timeout=30)
        assert found.status_code == 200 and 'Default' in {e['name'] for e in found.json()['experiments']}, found.text
        exp = httpx.post(f'{mlf}/api/2.0/mlflow/experiments/create', json={'name': 'deploy-probe'}, timeout=30).json()['experiment_id']
        got = httpx.get(f'{mlf}/api/2.0/mlflow/experiments/get', params={'experiment_id': exp}).json()['experiment']
        assert got['artifact_location'].startswith('mlflow-artifacts:'), got
        assert httpx.put(f'{mlf}/api/2.0/mlflow-artifacts/artifacts/{exp}/probe.txt', content=b'probe').status_code == 200
        assert (Path(d.volumes('mlflow')['/srv/mlartifacts'])/exp/'probe.txt').read_bytes() == b'probe'
        store = create_engine(d.local('mlflow', d.c['services']['mlflow']['environment']['MLFLOW_BACKEND_STORE_URI']))
        with store.connect() as con: assert 'deploy-probe' in con.execute(text('SELECT name FROM experiments')).scalars().all()
        store.dispose()
        assert httpx.post(f'{mlf}/api/2.0/mlflow/experiments/search', json={'max_results': 1}, headers={'Host': 'mlflow:5000'}).status_code == 200
        assert httpx.post(f'{mlf}/api/2.0/mlflow/experiments/search', json={'max_results': 1}, headers={'Host': 'evil.example'}).status_code == 403

        # the dashboard: its health check starts no kernel; its kernel calls the API at the api service with the token
        dash = procs['dashboard'].pid
        wait_until(lambda: len(_kernels(dash)) == 1, procs['dashboard'], logs['dashboard'], 'the preheated kernel', timeout=60)
        before = {k.pid for k in _kernels(dash)}
        for _ in range(5): assert d.healthy('dashboard')
        assert {k.pid for k in _kernels(dash)} == before, 'the health check started a kernel'
        kenv = _kernels(dash)[0].environ()
        assert (kenv['OCR6_API_URL'], kenv['OCR6_API_TOKEN']) == (api, token)
        assert httpx.get(f"{kenv['OCR6_API_URL']}/model", headers={'Authorization': f"Bearer {kenv['OCR6_API_TOKEN']}"}).status_code == 200
        print(f'{time.monotonic() - t0:5.1f} s  all checks passed')
    finally:
        stop_processes(*procs.values())
    for n, p in procs.items(): assert p.returncode is not None, n
    assert not any(workdir.iterdir()), f'written into the working directory: {sorted(p.name for p in workdir.iterdir())}'


def test_dashboard_health_check_is_the_ready_path():
    "The compose health check fetches the path that `ocr6 demo` polls too: a static file, which starts no kernel (checked live above)."
    from ocr6_scoring.dashboard import READY_PATH
    assert f':8866{READY_PATH}' in ' '.join(compose()['services']['dashboard']['healthcheck']['test'])
