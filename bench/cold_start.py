"""Cold start benchmark (a script, not a test; part of `make bench`): the time to import each function's handler
module in a fresh interpreter, against `import boto3` plus one client (the least any of them needs), run in turn
(A B A B ...) and compared pair by pair; prints the median ratio per function. Goal: at most 1.5.

The Lambda runtime's variables are set as the template sets them (tracing off by default: Tracing=PassThrough), so
the import follows the same paths as in Lambda.

    python bench/cold_start.py [--runs 7]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FUNCTIONS = ("customer_transfer", "invoice_transfer", "giftcard_transfer", "loyalty_transfer", "hook_ingress")
BASELINE = "import boto3; boto3.client('dynamodb')"
ENV = {
    "AWS_LAMBDA_FUNCTION_NAME": "bench",
    "AWS_REGION": "us-east-1",
    "AWS_DEFAULT_REGION": "us-east-1",
    "POWERTOOLS_SERVICE_NAME": "ipaas-sync",
    "POWERTOOLS_METRICS_NAMESPACE": "IpaasSync",
    "POWERTOOLS_TRACE_DISABLED": "true",
    "IDEMPOTENCY_TABLE": "bench",
    "THROTTLE_TABLE": "bench",
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
}


def timed(code: str, cwd: Path) -> float:
    env = {**os.environ, **ENV, "PYTHONPATH": f"{ROOT / 'shared'}{os.pathsep}{cwd}"}
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], cwd=cwd, env=env, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - started


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=7, help="pairs per function (default 7)")
    args = parser.parse_args(argv)
    worst = 0.0
    for name in FUNCTIONS:
        cwd = ROOT / "functions" / name
        timed("import app", cwd)  # warm the file cache and the bytecode
        pairs = [(timed("import app", cwd), timed(BASELINE, cwd)) for _ in range(args.runs)]
        ratio = statistics.median(a / b for a, b in pairs)
        worst = max(worst, ratio)
        print(
            f"cold start {name:18s} import {statistics.median(a for a, _ in pairs) * 1000:4.0f} ms vs boto3 + one "
            f"client {statistics.median(b for _, b in pairs) * 1000:4.0f} ms: ratio {ratio:.2f} (goal <= 1.5)"
        )
    return 0 if worst <= 1.5 else 1


if __name__ == "__main__":
    sys.exit(main())
