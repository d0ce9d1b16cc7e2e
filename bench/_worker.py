"""Shared by the bench modules: run a module's `--worker` mode in a fresh Python process and read its answer.

A fresh process times imports and loading honestly and keeps the peak memory of one measurement apart.
"""
import json, subprocess, sys


def run_worker(script, *args, what: str) -> dict:
    "`python script --worker *args` in a fresh process: the JSON of its last stdout line; RuntimeError with the end of its stderr if it fails."
    r = subprocess.run([sys.executable, str(script), '--worker', *map(str, args)], capture_output=True, text=True)
    if r.returncode: raise RuntimeError(f'{what} failed:\n{r.stderr[-3000:]}')
    return json.loads(r.stdout.strip().splitlines()[-1])
