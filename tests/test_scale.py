"The Dask engine gives the pandas engine's results: partitioned synthetic data equal to the flat files, features and scores equal."
import numpy as np, pandas as pd
import pytest
from conftest import ocr6
from ocr6_scoring.data import load_tables, TABLES, DataError
from ocr6_scoring.features import FeatureBuilder
from ocr6_scoring.scale import read_manifest, read_part, dask_client, build_features, read_features, score_parts, PartsWriter
from ocr6_scoring.synth import synthesize, CHUNK_SIZE

N = CHUNK_SIZE + 2_000  # two training chunks, so more than one part of each application table

@pytest.fixture(scope='module')
def client():
    with dask_client(n_workers=2, memory_limit='2GB') as c: yield c

@pytest.fixture(scope='module')
def synth_pair(tmp_path_factory):
    "The same synthetic data set as flat Parquet files and as a partitioned folder."
    d = tmp_path_factory.mktemp('synth')
    flat = synthesize(d/'flat', n_clients=N, seed=5, n_test=3_000, fmt='parquet', progress=False)
    parts = synthesize(d/'parts', n_clients=N, seed=5, n_test=3_000, fmt='parts', progress=False)
    return flat, parts

def plain(df: pd.DataFrame) -> list:
    return df.astype(object).where(df.notna(), None).to_numpy().tolist()

def test_synth_parts_hold_the_flat_files_rows(synth_pair):
    flat, parts = synth_pair
    m = read_manifest(parts['out'])
    assert m['n_parts'] == 3 and parts['rows'] == flat['rows']
    assert m['tables']['application_train']['rows'][2] == 0 and m['tables']['application_test']['rows'][:2] == [0, 0]
    tables = load_tables(flat['out'])
    for t in TABLES:
        whole = pd.concat([p for k in range(m['n_parts']) if len(p := read_part(parts['out'], k, [t], m)[t])], ignore_index=True)
        assert plain(whole) == plain(tables[t][whole.columns]), t

def test_features_of_synth_parts_equal_fit_transform(synth_pair, client, tmp_path):
    flat, parts = synth_pair
    tables = load_tables(flat['out']); tables.pop('application_test')
    fb = FeatureBuilder(); X = fb.fit_transform(tables)
    fb2 = build_features(client, parts['out'], tmp_path/'X', progress=False)
    assert fb2.spec == fb.spec
    X2 = read_features(tmp_path/'X')
    assert list(X2.index) == list(X.index)  # parts in order: the applicants' order too
    assert X2.drop(columns='TARGET').to_numpy().tobytes() == X.to_numpy().tobytes()
    assert (X2.TARGET.to_numpy() == tables['application_train'].TARGET.to_numpy()).all()

def test_dask_scores_equal_pandas_scores(sample_bundle, clients_dir, tmp_path):
    ocr6('partition', '--data-dir', clients_dir, '--out', tmp_path/'parts', '--n-parts', 3, '--quiet', check=True)
    a = ocr6('score', '--model', sample_bundle, '--data-dir', clients_dir, '--out', tmp_path/'a.csv', check=True)
    b = ocr6('score', '--engine', 'dask', '--workers', 2, '--memory-limit', '2GB', '--quiet', '--model', sample_bundle,
             '--data-dir', tmp_path/'parts', '--out', tmp_path/'b.csv', check=True)
    pa_, pb = (pd.read_csv(tmp_path/f, dtype=str).sort_values('SK_ID_CURR', ignore_index=True) for f in ('a.csv', 'b.csv'))
    assert len(pa_) == 1000 and pa_.equals(pb)  # the same text, line for line
    assert a.stdout.split('(')[1] == b.stdout.split('(')[1]  # the same counts of decisions
    assert pa_.decision.nunique() == 2

def test_dask_engine_errors_are_one_line(sample_bundle, clients_dir, tmp_path):
    r = ocr6('score', '--engine', 'dask', '--model', sample_bundle, '--data-dir', clients_dir, '--out', tmp_path/'b.csv')
    assert r.returncode == 2 and 'not a partitioned data folder' in r.stderr and 'ocr6 partition' in r.stderr, r.stderr
    r = ocr6('score', '--scheduler', 'tcp://127.0.0.1:1', '--model', sample_bundle, '--data-dir', clients_dir, '--out', tmp_path/'b.csv')
    assert r.returncode == 2 and '--scheduler needs --engine dask' in r.stderr, r.stderr
    r = ocr6('partition', '--data-dir', clients_dir, '--out', tmp_path/'p', '--n-parts', 0)
    assert r.returncode == 2 and 'n_parts must be a whole number >= 1' in r.stderr, r.stderr
    assert not (tmp_path/'b.csv').exists() and not (tmp_path/'p').exists()

def test_score_parts_without_new_applicants_writes_nothing(sample_bundle, client, tmp_path):
    w = PartsWriter(tmp_path/'only_train', 'test'); w.write('application_train', 0, pd.DataFrame({'SK_ID_CURR': [1], 'TARGET': [0]})); w.close()
    with pytest.raises(DataError, match='has no application_test table'):
        score_parts(client, sample_bundle, tmp_path/'only_train', tmp_path/'out.csv', progress=False)
    assert not (tmp_path/'out.csv').exists()

def test_dask_scores_of_synth_parts_equal_pandas_scores(synth_pair, sample_bundle, client, tmp_path):
    "Parts without new applicants (the training chunks) are skipped; the rest score as the flat files do."
    from ocr6_scoring.tracking import score_folder
    flat, parts = synth_pair
    a = score_folder(sample_bundle, flat['out'], tmp_path/'a.csv')
    n = score_parts(client, sample_bundle, parts['out'], tmp_path/'b.csv', progress=False)
    assert n == {'applicants': 3_000, 'refused': int((a.decision == 'refused').sum())}
    assert (tmp_path/'a.csv').read_text() == (tmp_path/'b.csv').read_text()  # chunk order is file order: the same file

def test_features_equal_on_raw_child_rows(client, tmp_path):
    "Real child rows with their empty cells (../shared/data/home-credit-child-raw), linked to stand-in applicants: same spec, same bits."
    import shutil
    from conftest import ROOT
    from ocr6_scoring.scale import partition_folder
    raw = (ROOT/'..'/'shared'/'data'/'home-credit-child-raw').resolve()
    if not (raw/'bureau.csv').exists(): pytest.skip(f'raw child rows not found at {raw}')
    d = tmp_path/'raw'; d.mkdir()
    for f in raw.glob('*.csv'): shutil.copy(f, d/f.name)
    ids = sorted(set().union(*(pd.read_csv(raw/f'{t}.csv', usecols=['SK_ID_CURR']).SK_ID_CURR for t in
                               ('bureau', 'POS_CASH_balance', 'credit_card_balance', 'installments_payments'))))
    pd.DataFrame({'SK_ID_CURR': ids, 'TARGET': np.arange(len(ids)) % 2}).to_csv(d/'application_train.csv', index=False)
    fb = FeatureBuilder(); X = fb.fit_transform(load_tables(d))
    partition_folder(d, tmp_path/'parts', 6, progress=False, rows=7_000)
    fb2 = build_features(client, tmp_path/'parts', tmp_path/'X', progress=False)
    assert fb2.spec == fb.spec and X.notna().to_numpy().mean() > 0.2
    assert read_features(tmp_path/'X').loc[X.index].drop(columns='TARGET').to_numpy().tobytes() == X.to_numpy().tobytes()

def test_unreachable_scheduler_is_one_line(tmp_path):
    w = PartsWriter(tmp_path/'p', 'test'); w.write('application_test', 0, pd.DataFrame({'SK_ID_CURR': [1]})); w.close()
    r = ocr6('score', '--engine', 'dask', '--scheduler', 'tcp://127.0.0.1:9', '--model', tmp_path/'model', '--data-dir', tmp_path/'p', '--out', tmp_path/'b.csv')
    assert r.returncode == 2 and 'cannot reach the Dask scheduler at tcp://127.0.0.1:9' in r.stderr and 'Traceback' not in r.stderr, r.stderr
    assert not (tmp_path/'b.csv').exists()
