"""`make bench` prints the cost per million at both Lambda prices: x86_64 and arm64 (the template's default)."""

from __future__ import annotations

import re

from bench.throttle_benchmark import PRICE, cost_lines


def test_the_cost_is_printed_for_both_architectures():
    per = {"gb_s": 0.5, "invocations": 0.1, "wru": 4, "rru": 0, "sqs": 3, "log_bytes": 500, "secrets": 0}
    lines = cost_lines(per, "transfers")
    x86 = float(re.search(r"cost per million transfers: \$([\d.]+)", lines[0]).group(1))
    arm64 = float(re.search(r"on arm64 \(Architecture=arm64, the default\): \$([\d.]+)", lines[1]).group(1))
    # the same duration, 20% cheaper per GB-second
    assert round(x86 - arm64, 2) == round(0.5 * (PRICE["lambda_gb_s"] - PRICE["lambda_gb_s_arm64"]) * 1e6, 2) == 1.67
