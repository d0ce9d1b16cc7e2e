"The `ocr6` console script as a user runs it."
import pytest
from conftest import ocr6

def test_help_lists_commands():
    r = ocr6('--help', check=True)
    assert 'usage: ocr6' in r.stdout and 'summary' in r.stdout

def test_summary_on_real_sample(sample_dir):
    r = ocr6('summary', '--data-dir', sample_dir, check=True)
    assert 'application_train' in r.stdout and 'bureau_balance' in r.stdout
    assert '1,000 training applicants, 70 defaults (7.0 %)' in r.stdout

def test_bad_folder_is_one_line_error(tmp_path):
    r = ocr6('summary', '--data-dir', tmp_path/'missing')
    assert r.returncode == 2 and 'Traceback' not in r.stderr
    assert r.stderr.strip() == f"ocr6 summary: error: {tmp_path/'missing'}: data folder not found"

@pytest.mark.parametrize('case', ['no application_test', 'no folder'])
def test_serve_without_clients_is_one_line_error(sample_bundle, sample_dir, tmp_path, case):
    "A data folder without application_test (the clients served) is refused in one line before the port is bound."
    from ocr6_scoring.cli import free_port
    d, msg = ((sample_dir, 'required file application_test.csv (or application_test.parquet) is missing') if case == 'no application_test'
              else (tmp_path/'missing', 'data folder not found'))
    r = ocr6('serve', '--model', sample_bundle, '--data-dir', d, '--port', free_port(), timeout=120)
    assert r.returncode == 2 and 'Traceback' not in r.stderr, (r.returncode, r.stderr[-3000:])
    assert r.stderr.strip() == f"ocr6 serve: error: {d}: {msg}"
    assert 'API on http' not in r.stdout
