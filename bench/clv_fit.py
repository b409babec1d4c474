"""Benchmark: fitting and predicting with ``app.segments.clv`` on CDNOW and on 1,000,000 customers.

CDNOW is the published sample (2,357 customers, ``../shared/benchdata``): BG/NBD and
Gamma-Gamma fit times, best of ``--repeat``. The large set is drawn from the BG/NBD and
Gamma-Gamma generative processes with the published CDNOW parameters: first purchases spread
over 12 weeks, a 39-week window, purchase times rounded to the day as a shop's order dates are.
Each stage runs in a process of its own so that its peak RSS is its own; ``generate`` alone is
the baseline of holding the data. The fits on the large set are checked against the parameters
that generated it. No database is involved.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from app.segments import clv
from bench.common import PYTHON, ROOT

BENCHDATA = ROOT.parent / "shared" / "benchdata"
if not BENCHDATA.is_dir():  # a bare clone: the verbatim copy the tests read
    BENCHDATA = ROOT / "tests" / "fixtures" / "shared" / "benchdata"
STAGES = ("generate", "fit-raw", "fit-collapsed", "predict")


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def simulate(customers: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """x, t_x, T (weeks) and m for ``customers`` drawn from BG/NBD and Gamma-Gamma with CDNOW's parameters.

    A customer buys at rate λ ~ Gamma(r, α) and leaves after their K-th repeat purchase,
    K ~ Geometric(p), p ~ Beta(a, b); of the N ~ Poisson(λT) purchases a live customer would
    make in (0, T], the first min(N, K) happen, and the last of them is the x-th smallest of N
    uniform times: T · Beta(x, N - x + 1).
    """
    rng = np.random.default_rng(seed)
    bgnbd, gamma_gamma = clv.CDNOW_BGNBD, clv.CDNOW_GAMMA_GAMMA
    first_day = rng.integers(0, 84, customers)
    T = (272 - first_day) / 7
    rate = rng.gamma(bgnbd.r, 1 / bgnbd.alpha, customers)
    dropout = rng.beta(bgnbd.a, bgnbd.b, customers)
    would_buy = rng.poisson(rate * T)
    x = np.minimum(would_buy, rng.geometric(dropout))
    repeat = x > 0
    t_x = np.where(repeat, T * rng.beta(np.maximum(x, 1), np.maximum(would_buy - x + 1, 1)), 0.0)
    t_x = np.floor(t_x * 7) / 7
    spend_rate = rng.gamma(gamma_gamma.q, 1 / gamma_gamma.gamma, customers)
    m = np.where(repeat, rng.gamma(gamma_gamma.p * np.maximum(x, 1), 1 / spend_rate) / np.maximum(x, 1), 0.0)
    return x.astype(np.float64), t_x, T, m


def timed(function: Callable[[], Any], repeat: int = 1) -> tuple[float, Any]:
    best, value = float("inf"), None
    for _ in range(repeat):
        began = time.perf_counter()
        value = function()
        best = min(best, time.perf_counter() - began)
    return best, value


def cdnow(repeat: int) -> dict:
    data = np.genfromtxt(BENCHDATA / "cdnow_customers_summary_with_transactions.csv", delimiter=",", names=True)
    x, t_x, T, zbar = data["x"], data["t_x"], data["T"], data["zbar"]
    raw_seconds, params = timed(lambda: clv.fit_bgnbd(x, t_x, T), repeat)
    collapsed = clv.collapse(x, t_x, T)
    collapsed_seconds, _ = timed(lambda: clv.fit_bgnbd(*collapsed), repeat)
    gamma_gamma_seconds, gamma_gamma = timed(lambda: clv.fit_gamma_gamma(x, zbar), repeat)
    return {"customers": len(x), "triples": len(collapsed[0]), "raw_seconds": raw_seconds,
            "collapsed_seconds": collapsed_seconds, "gamma_gamma_seconds": gamma_gamma_seconds,
            "params": vars(params), "log_likelihood": clv.bgnbd_log_likelihood(params, x, t_x, T),
            "gamma_gamma": vars(gamma_gamma)}


def stage(name: str, customers: int, seed: int) -> dict:
    began = time.perf_counter()
    x, t_x, T, m = simulate(customers, seed)
    out: dict = {"generate_seconds": time.perf_counter() - began, "repeaters": int((x > 0).sum())}
    if name == "fit-raw":
        out["seconds"], params = timed(lambda: clv.fit_bgnbd(x, t_x, T))
        out["params"] = vars(params)
        out["gamma_gamma_seconds"], gamma_gamma = timed(lambda: clv.fit_gamma_gamma(x, m))
        out["gamma_gamma"] = vars(gamma_gamma)
    elif name == "fit-collapsed":
        out["collapse_seconds"], collapsed = timed(lambda: clv.collapse(x, t_x, T))
        out["triples"] = len(collapsed[0])
        out["seconds"], params = timed(lambda: clv.fit_bgnbd(*collapsed))
        out["params"] = vars(params)
        out["fit_seconds"], result = timed(lambda: clv.fit(x, t_x, T, m))
        out["fit_method"] = [result.method, result.gamma_gamma_method, result.reason]
    elif name == "predict":
        bgnbd, gamma_gamma = clv.CDNOW_BGNBD, clv.CDNOW_GAMMA_GAMMA
        out["alive_seconds"], alive = timed(lambda: clv.probability_alive(bgnbd, x, t_x, T))
        out["risk_seconds"], risk = timed(lambda: clv.churn_risk(alive))
        out["expected_seconds"], expected = timed(lambda: clv.expected_purchases(bgnbd, 52, x, t_x, T))
        out["value_seconds"], value = timed(lambda: clv.lifetime_value(bgnbd, gamma_gamma, x, t_x, T, m))
        out["finite"] = bool(np.isfinite(alive).all() and np.isfinite(expected).all() and np.isfinite(value).all())
        out["bands"] = {band: int((risk == band).sum()) for band in ("low", "medium", "high")}
        out["mean_value"] = float(value.mean())
    out["rss_mb"] = rss_mb()
    return out


def recovery(params: dict, truth: object) -> str:
    return ", ".join(f"{key} {value:.3f} ({value / getattr(truth, key) - 1:+.1%})" for key, value in params.items())


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--stage", choices=STAGES)
    args = parser.parse_args()
    if args.stage:
        print(json.dumps(stage(args.stage, args.customers, args.seed)))
        return

    small = cdnow(args.repeat)
    print(f"CDNOW, {small['customers']:,} customers ({small['triples']:,} distinct triples), best of {args.repeat}:")
    print(f"  BG/NBD fit {small['raw_seconds'] * 1000:.1f} ms, collapsed {small['collapsed_seconds'] * 1000:.1f} ms; "
          f"Gamma-Gamma fit {small['gamma_gamma_seconds'] * 1000:.1f} ms")
    print(f"  BG/NBD {recovery(small['params'], clv.CDNOW_BGNBD)} vs published; LL {small['log_likelihood']:.2f}")
    print(f"  Gamma-Gamma {recovery(small['gamma_gamma'], clv.CDNOW_GAMMA_GAMMA)} vs published")

    runs = {}
    for name in STAGES:
        result = subprocess.run([PYTHON, "-m", "bench.clv_fit", "--stage", name, "--customers", str(args.customers),
                                 "--seed", str(args.seed)], cwd=ROOT, check=True, capture_output=True, text=True)
        runs[name] = json.loads(result.stdout.strip().splitlines()[-1])
    generated, raw, collapsed, predicted = (runs[name] for name in STAGES)
    print(f"synthetic, {args.customers:,} customers ({generated['repeaters']:,} repeaters), "
          f"drawn in {generated['generate_seconds']:.2f}s; peak RSS holding them {generated['rss_mb']:.0f} MB")
    print(f"  BG/NBD fit, every row: {raw['seconds']:.2f}s, peak RSS {raw['rss_mb']:.0f} MB "
          f"(with the Gamma-Gamma fit, {raw['gamma_gamma_seconds']:.2f}s)")
    print(f"    {recovery(raw['params'], clv.CDNOW_BGNBD)} vs generating")
    print(f"    Gamma-Gamma {recovery(raw['gamma_gamma'], clv.CDNOW_GAMMA_GAMMA)} vs generating")
    print(f"  BG/NBD fit, collapsed: {collapsed['collapse_seconds']:.2f}s to collapse into {collapsed['triples']:,} "
          f"triples + {collapsed['seconds']:.2f}s to fit, peak RSS {collapsed['rss_mb']:.0f} MB")
    print(f"    {recovery(collapsed['params'], clv.CDNOW_BGNBD)} vs generating")
    print(f"  fit() (collapses for BG/NBD, Gamma-Gamma on every repeater): {collapsed['fit_seconds']:.2f}s, "
          f"methods {collapsed['fit_method'][:2]} {collapsed['fit_method'][2]!r}")
    print(f"  predictions for {args.customers:,}: P(alive) {predicted['alive_seconds']:.2f}s, churn bands "
          f"{predicted['risk_seconds']:.2f}s, expected purchases in 52 weeks {predicted['expected_seconds']:.2f}s, "
          f"12-month value {predicted['value_seconds']:.2f}s; peak RSS {predicted['rss_mb']:.0f} MB; "
          f"all finite: {predicted['finite']}")
    print(f"    bands {predicted['bands']}, mean 12-month value {predicted['mean_value']:.2f}")


if __name__ == "__main__":
    main()
