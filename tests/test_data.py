"File-level tests of the loader: real sample, Parquet, and each bad-input case on files written here."
import warnings
import pandas as pd, pytest
from ocr6_scoring.data import (SCHEMA, TABLES, DataError, DataWarning, load_tables, read_table,
                               load_descriptions, summarise)

def test_real_sample_all_tables(sample_dir):
    with warnings.catch_warnings():
        warnings.simplefilter('error')  # the real files have no unknown columns
        tabs = load_tables(sample_dir)
    assert set(tabs) == set(TABLES) - {'application_test'}
    app = tabs['application_train'].set_index('SK_ID_CURR')
    assert len(app) == 1000 and app.shape[1] == 121
    assert app.loc[100002, 'TARGET'] == 1 and app.loc[100003, 'TARGET'] == 0
    assert app.loc[100002, 'AMT_INCOME_TOTAL'] == 202500.0
    assert app.loc[100003, 'WALLSMATERIAL_MODE'] == 'Block'
    assert (app.DAYS_EMPLOYED == 365243).sum() > 0  # the sentinel is kept as read
    assert 'XNA' in set(app.ORGANIZATION_TYPE.cat.categories)
    assert 'Stone, brick' in set(app.WALLSMATERIAL_MODE.cat.categories)  # quoted comma
    prev = tabs['previous_application']
    assert {'XAP', 'XNA'} <= set(prev.NAME_CASH_LOAN_PURPOSE.cat.categories)
    for t, df in tabs.items():  # every column typed as the schema says
        assert [str(x) for x in df.dtypes] == [{'key': 'int64', 'int': 'Int32', 'float': 'float64', 'cat': 'category'}[SCHEMA[t][c]] for c in df.columns], t

def test_parquet_equals_csv(sample_dir, tmp_path):
    csv = read_table(sample_dir/'bureau.csv')
    csv.to_parquet(tmp_path/'bureau.parquet')
    pd.testing.assert_frame_equal(read_table(tmp_path/'bureau.parquet'), csv)
    (tmp_path/'application_test.csv').write_text('SK_ID_CURR\n1\n')
    assert set(load_tables(tmp_path)) == {'application_test', 'bureau'}

def write(p, text): p.write_text(text); return p

def test_missing_required_file_and_column(tmp_path):
    with pytest.raises(DataError, match='no application file'): load_tables(tmp_path)
    write(tmp_path/'application_test.csv', 'SK_ID_CURR\n1\n')
    with pytest.raises(DataError, match=r'required file application_train\.csv \(or application_train\.parquet\) is missing'):
        load_tables(tmp_path, require=['application_train'])
    write(tmp_path/'application_train.csv', 'SK_ID_CURR,AMT_CREDIT\n1,2\n')
    with pytest.raises(DataError, match=r'^application_train\.csv: required column TARGET is missing$'):
        load_tables(tmp_path)

def test_duplicate_ids(tmp_path):
    write(tmp_path/'application_test.csv', 'SK_ID_CURR\n' + '\n'.join(['3', '1', '3', '2', '1', '4', '5', '5']) + '\n')
    with pytest.raises(DataError, match=r'^application_test\.csv: 3 duplicated SK_ID_CURR value\(s\) \(6 rows\), e\.g\. 3, 1, 5$'):
        load_tables(tmp_path)

def test_wrong_type_names_file_column_value_row(tmp_path):
    write(tmp_path/'application_test.csv', 'SK_ID_CURR,DAYS_BIRTH,AMT_CREDIT\n1,-9000,1.5\n2,-9100,2\n3,old,3\n')
    with pytest.raises(DataError, match=r"^application_test\.csv: column DAYS_BIRTH expects numbers, found 'old' at row 3 \(1 bad value in all\)$"):
        load_tables(tmp_path)
    write(tmp_path/'application_test.csv', 'SK_ID_CURR,CNT_CHILDREN\n1,0\n2,1.5\n')
    with pytest.raises(DataError, match=r'column CNT_CHILDREN expects whole numbers, found 1\.5 at row 2'):
        load_tables(tmp_path)
    write(tmp_path/'application_test.csv', 'SK_ID_CURR\n1\n\n2\nx\n')
    with pytest.raises(DataError, match=r"column SK_ID_CURR expects numbers, found 'x' at row 3"):
        load_tables(tmp_path)

def test_unknown_columns_warn_and_are_ignored(tmp_path):
    write(tmp_path/'application_test.csv', 'SK_ID_CURR,FOO,AMT_CREDIT,BAR\n1,a,2,b\n')
    with pytest.warns(DataWarning, match=r'application_test\.csv: 2 unknown column\(s\) ignored: FOO, BAR'):
        t = load_tables(tmp_path)['application_test']
    assert list(t.columns) == ['SK_ID_CURR', 'AMT_CREDIT']

def test_real_quirks_crlf_sentinel_quotes_latin1(tmp_path):
    (tmp_path/'application_test.csv').write_bytes(
        b'SK_ID_CURR,DAYS_EMPLOYED,NAME_TYPE_SUITE,WALLSMATERIAL_MODE,COMMONAREA_AVG\r\n'
        b'1,365243,"Spouse, partner","Stone, brick",\r\n2,-10,XNA,,\r\n')
    t = load_tables(tmp_path)['application_test']
    assert t.DAYS_EMPLOYED.tolist() == [365243, -10]
    assert t.NAME_TYPE_SUITE.tolist() == ['Spouse, partner', 'XNA']
    assert t.COMMONAREA_AVG.isna().all()  # a mostly (here: wholly) empty column loads as missing
    (tmp_path/'HomeCredit_columns_description.csv').write_bytes(
        ',Table,Row,Description,Special\n1,application_{train|test}.csv,AMT_CREDIT,Montant du cr\xe9dit,\n'.encode('latin-1'))
    assert load_descriptions(tmp_path)['application_test']['AMT_CREDIT'] == 'Montant du cr\xe9dit'

def test_summary_counts_orphans(sample_dir):
    s = summarise(load_tables(sample_dir))
    assert s.loc['application_train', 'rows'] == 1000
    assert s.loc['bureau', 'applicants'] == 734 or s.loc['bureau', 'applicants'] > 0
    assert s.loc['bureau', 'orphan rows'] > 0


def test_load_tables_reads_a_changed_file_again(tmp_path):
    "A folder read twice in one process comes from memory, unless a file changed (size or modification time)."
    import os
    from ocr6_scoring.synth import synthesize
    from ocr6_scoring.data import load_tables, find_table
    synthesize(tmp_path/'d', n_clients=300, seed=1, progress=False)
    first = load_tables(tmp_path/'d', ['application_train'])['application_train']
    p = find_table(tmp_path/'d', 'application_train')
    df = first.iloc[:-10]
    df.to_parquet(p, index=False) if p.suffix == '.parquet' else df.to_csv(p, index=False)
    os.utime(p, ns=(p.stat().st_atime_ns, p.stat().st_mtime_ns + 10**9))
    assert len(load_tables(tmp_path/'d', ['application_train'])['application_train']) == len(first) - 10
