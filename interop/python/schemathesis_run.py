"""Schemathesis against the gateway's own OpenAPI document, bounded to fit the suite.

    schemathesis_run.py <gateway URL> [max seconds] [max examples per operation] [seed]

Runs the schemathesis CLI (the interface it keeps stable) on <gateway URL>/v1/openapi.json
with the checks a user of the document relies on: no 5xx (not_a_server_error), every status
and content type documented, every body valid against its schema. It prints one JSON object:
the run's exit code, its counts, and each failure and error with the operations it hit and the
console's account of it (the reproducing curl line included), which
test/interop/schemathesis.test.ts checks. schemathesis_hooks.py bounds the pipelines it sends
(and says why).
"""
import json
import os
import re
import subprocess
import sys
import tempfile

CHECKS = 'not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance'


def main(url: str, seconds: int, examples: int, seed: int) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        report = os.path.join(tmp, 'report.json')
        # The CLI's entry point run by this interpreter: no need for its script to be on PATH.
        cmd = [
            sys.executable, '-c', 'import sys; from schemathesis.cli import schemathesis; sys.exit(schemathesis())', 'run', f'{url}/v1/openapi.json',
            '--checks', CHECKS,
            '--max-time', str(seconds), '--max-examples', str(examples), '--seed', str(seed),
            '--workers', '1', '--request-timeout', '20', '--wait-for-schema', '10',
            '--report', 'json', '--report-json-path', report,
            '--output-truncate', 'true',
        ]
        # Schemathesis writes its own files (e.g. its report directory) where it runs: a scratch place.
        # The hooks (schemathesis_hooks.py) are imported by module name, from this directory.
        here = os.path.dirname(os.path.abspath(__file__))
        env = {**os.environ, 'NO_COLOR': '1', 'SCHEMATHESIS_HOOKS': 'schemathesis_hooks', 'PYTHONPATH': here + os.pathsep + os.environ.get('PYTHONPATH', '')}
        run = subprocess.run(cmd, cwd=tmp, capture_output=True, text=True, timeout=seconds + 120, env=env)
        data = json.load(open(report)) if os.path.exists(report) else {}
    console = run.stdout + run.stderr
    # The console's FAILURES and ERRORS sections, split per operation, for a readable assertion message.
    sections = re.split(r'\n_{3,} (.+?) _{3,}\n', console)
    accounts = {sections[i]: sections[i + 1][:3000] for i in range(1, len(sections) - 1, 2)}
    return {
        'command': ' '.join(cmd),
        'exit_code': run.returncode,
        'stop_reason': data.get('stop_reason'),
        'operations': data.get('operations'),
        'test_cases': data.get('test_cases'),
        'phases': {k: v.get('status') for k, v in (data.get('phases') or {}).items()},
        'failures': data.get('failures', []),
        'errors': data.get('errors', []),
        'accounts': accounts,
        'summary': console[-2500:],
    }


if __name__ == '__main__':
    a = sys.argv[1:]
    print(json.dumps(main(a[0], int(a[1]) if len(a) > 1 else 50, int(a[2]) if len(a) > 2 else 25, int(a[3]) if len(a) > 3 else 1)))
