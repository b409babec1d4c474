"""BG/NBD, Gamma-Gamma and lifetime value against the published CDNOW results, and the fallback rule."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections import defaultdict

import numpy as np
import pytest
from scipy import special

from app.segments import clv
from tests.conftest import SHARED

BENCHDATA = SHARED / "benchdata"  # beside the checkout, else the verbatim copy in tests/fixtures
CALIBRATION_DAYS = 273  # 39 weeks from 1 January 1997


def _csv(name: str) -> dict[str, np.ndarray]:
    data = np.genfromtxt(BENCHDATA / name, delimiter=",", names=True)
    return {column: data[column] for column in data.dtype.names}


@pytest.fixture(scope="module")
def summary() -> dict[str, np.ndarray]:
    return _csv("cdnow_customers_summary.csv")


@pytest.fixture(scope="module")
def with_values() -> dict[str, np.ndarray]:
    return _csv("cdnow_customers_summary_with_transactions.csv")


@pytest.fixture(scope="module")
def fitted(summary) -> clv.BgNbdParams:
    return clv.fit_bgnbd(summary["frequency"], summary["recency"], summary["T"])


def _repeat_values_from_transactions() -> tuple[np.ndarray, np.ndarray]:
    """x and the unrounded mean repeat-purchase value per customer, from the raw CDNOW transactions.

    A customer's purchases on one day are one transaction; repeat transactions are those after
    the first day and within the 39-week calibration period.
    """
    spent: dict[int, dict[dt.date, float]] = defaultdict(lambda: defaultdict(float))
    for line in (BENCHDATA / "CDNOW_sample.txt").read_text().splitlines():
        _, customer, day, _, value = line.split()
        spent[int(customer)][dt.date(int(day[:4]), int(day[4:6]), int(day[6:]))] += float(value)
    end = dt.date(1997, 1, 1) + dt.timedelta(days=CALIBRATION_DAYS - 1)
    x, m = [], []
    for customer in sorted(spent):
        days = sorted(spent[customer])
        repeats = [spent[customer][day] for day in days[1:] if day <= end]
        x.append(len(repeats))
        m.append(sum(repeats) / len(repeats) if repeats else 0.0)
    return np.array(x, dtype=float), np.array(m)


def test_bgnbd_reproduces_the_published_cdnow_estimates(summary, fitted):
    # Fader, Hardie & Lee (2005), "Counting Your Customers the Easy Way", section 4
    assert [round(value, 3) for value in (fitted.r, fitted.alpha, fitted.a, fitted.b)] == [0.243, 4.414, 0.793, 2.426]
    log_likelihood = clv.bgnbd_log_likelihood(fitted, summary["frequency"], summary["recency"], summary["T"])
    assert round(log_likelihood, 1) == -9582.4


def test_the_conditional_expectation_matches_the_authors_spreadsheet(fitted):
    # Hardie's BG/NBD Excel workbook (customer 1 of CDNOW), as quoted by lifetimes' test suite
    assert round(float(clv.expected_purchases(fitted, 39, 2, 30.43, 38.86)), 3) == 1.226


def test_the_unconditional_expectation_matches_the_authors_spreadsheet(fitted):
    # E[X(t)] (eq. 9) from the same workbook, published to 4 decimals. Ours agree to 4 decimals
    # except at 78 weeks (1.8580; the workbook says 1.8576, and mpmath at 40 digits gives
    # 1.857972), so they are compared at the workbook's precision give or take half a unit of 3 decimals.
    weeks = np.array([0.1429, 1.0, 3.0, 31.8571, 32.0, 78.0])
    published = np.array([0.0078, 0.0532, 0.1506, 1.0405, 1.0437, 1.8576])
    assert clv.expected_purchases(fitted, weeks, 0, 0, 0) == pytest.approx(published, abs=5e-4)


def test_gamma_gamma_reproduces_the_published_estimates_from_the_raw_transactions():
    # Fader, Hardie & Lee (2005), "RFM and CLV: Using Iso-Value Curves": the 946 repeaters'
    # mean repeat-transaction values, here computed unrounded from CDNOW_sample.txt
    x, m = _repeat_values_from_transactions()
    assert int((x > 0).sum()) == 946
    params = clv.fit_gamma_gamma(x, m)
    assert [round(params.p, 2), round(params.q, 2), round(params.gamma, 2)] == [6.25, 3.74, 15.44]


def test_gamma_gamma_on_the_summary_files_rounded_zbar(with_values):
    # zbar in the summary file is rounded to cents, which moves gamma to 15.4477: p and q still
    # round to the published values, gamma is within 0.01 of 15.44 (lifetimes gets 15.4477 too)
    x, zbar = with_values["x"], with_values["zbar"]
    params = clv.fit_gamma_gamma(x, zbar)
    assert [round(params.p, 2), round(params.q, 2)] == [6.25, 3.74]
    assert params.gamma == pytest.approx(15.44, abs=0.01)


def test_the_summary_files_agree(summary, with_values):
    assert np.array_equal(summary["frequency"], with_values["x"])
    assert np.array_equal(summary["recency"], with_values["t_x"])
    assert np.array_equal(summary["T"], with_values["T"])


def test_a_collapsed_fit_gives_the_same_parameters(summary, fitted):
    x, t_x, T = summary["frequency"], summary["recency"], summary["T"]
    cx, ct_x, cT, counts = clv.collapse(x, t_x, T)
    assert len(cx) == 1016 and counts.sum() == 2357
    collapsed = clv.fit_bgnbd(cx, ct_x, cT, counts)
    assert dataclasses.astuple(collapsed) == pytest.approx(dataclasses.astuple(fitted), rel=1e-6)
    assert clv.bgnbd_log_likelihood(fitted, cx, ct_x, cT, counts) == pytest.approx(
        clv.bgnbd_log_likelihood(fitted, x, t_x, T), rel=1e-12)


def test_eulers_transformation_agrees_with_the_papers_formula(fitted, summary):
    # Eq. 10 as printed, with scipy's 2F1 as is: fine for CDNOW's small x, where both must agree
    r, alpha, a, b = dataclasses.astuple(fitted)
    x, t_x, T, t = summary["frequency"], summary["recency"], summary["T"], 39.0
    printed = ((a + b + x - 1) / (a - 1)
               * (1 - ((alpha + T) / (alpha + T + t)) ** (r + x)
                  * special.hyp2f1(r + x, b + x, a + b + x - 1, t / (alpha + T + t)))
               / (1 + (x > 0) * a / np.maximum(b + x - 1, 1e-300) * ((alpha + T) / (alpha + t_x)) ** (r + x)))
    assert clv.expected_purchases(fitted, t, x, t_x, T) == pytest.approx(printed, rel=1e-10)


def test_the_quadrature_fallback_agrees_with_the_closed_form(fitted, summary):
    x, T = summary["frequency"], summary["T"]
    t = np.full_like(x, 52.0)
    closed = clv.expected_purchases(fitted, t, x, np.zeros_like(x), T) / clv.probability_alive(fitted, x, 0, T)
    assert clv._expected_if_alive(fitted, t, x, T) == pytest.approx(closed, rel=1e-6)


def test_probability_alive_is_one_without_a_repeat_purchase_and_falls_with_recency(fitted):
    alive = clv.probability_alive(fitted, [0, 2, 2, 2], [0, 38.0, 20.0, 2.0], [38.86] * 4)
    assert alive[0] == 1.0
    assert alive[1] > alive[2] > alive[3] > 0


def test_predictions_are_finite_for_extreme_inputs(fitted):
    x = np.array([0, 1, 500, 500, 500, 5000, 500])
    t_x = np.array([0, 0, 0, 1e4, 5e3, 0, 1e-3])
    T = np.array([1e6, 1e-9, 1e4, 1e4, 1e4, 1e6, 1e-3])
    heavy = dataclasses.replace(fitted, a=1e4, b=1e5)  # where scipy's 2F1 returns NaN
    for params in (fitted, heavy):
        for t in (1e-6, 1.0, 52.0, 1e6):
            expected = clv.expected_purchases(params, t, x, t_x, T)
            assert np.all(np.isfinite(expected)) and np.all(expected >= 0)
        alive = clv.probability_alive(params, x, t_x, T)
        assert np.all((alive >= 0) & (alive <= 1))
        value = clv.lifetime_value(params, clv.CDNOW_GAMMA_GAMMA, x, t_x, T, np.full(x.shape, 20.0))
        assert np.all(np.isfinite(value)) and np.all(value >= 0)


def test_a_frequent_buyer_who_stopped_long_ago_is_gone(fitted):
    assert clv.probability_alive(fitted, 500, 0, 1e4)[()] == 0.0
    assert clv.expected_purchases(fitted, 52, 500, 0, 1e4)[()] == 0.0
    assert clv.expected_purchases(fitted, 52, 500, 1e4, 1e4)[()] > 52 * 500 / 1e4 * 0.5


def test_expected_order_value_shrinks_towards_the_population_mean():
    gg = clv.CDNOW_GAMMA_GAMMA
    population = gg.p * gg.gamma / (gg.q - 1)
    assert clv.expected_order_value(gg, 0, np.nan)[()] == pytest.approx(population)
    one, many = clv.expected_order_value(gg, [1, 50], [100.0, 100.0])
    assert population < one < many < 100.0
    assert one == pytest.approx(gg.p * (gg.gamma + 100.0) / (gg.p + gg.q - 1))


def test_lifetime_value_grows_with_the_months_and_discounts_them(fitted, with_values):
    x, t_x, T, zbar = with_values["x"], with_values["t_x"], with_values["T"], with_values["zbar"]
    values = [clv.lifetime_value(fitted, clv.CDNOW_GAMMA_GAMMA, x, t_x, T, zbar, months=months)
              for months in (0, 1, 6, 12, 24)]
    assert np.all(values[0] == 0)
    for shorter, longer in zip(values, values[1:], strict=False):
        assert np.all(longer >= shorter)
    assert np.any(values[-1] > values[-2])
    undiscounted = clv.lifetime_value(fitted, clv.CDNOW_GAMMA_GAMMA, x, t_x, T, zbar, monthly_discount=0.0)
    assert np.all(undiscounted >= values[3]) and np.any(undiscounted > values[3])


def test_lifetime_value_is_the_sum_of_the_months(fitted):
    x, t_x, T, m = 3, 30.0, 38.0, 40.0
    month = clv.DAYS_PER_MONTH / 7
    by_month_end = [float(clv.expected_purchases(fitted, k * month, x, t_x, T)) for k in range(13)]
    value = float(clv.expected_order_value(clv.CDNOW_GAMMA_GAMMA, x, m))
    expected = sum((by_month_end[k] - by_month_end[k - 1]) * value / 1.01 ** k for k in range(1, 13))
    assert clv.lifetime_value(fitted, clv.CDNOW_GAMMA_GAMMA, x, t_x, T, m)[()] == pytest.approx(expected, rel=1e-12)
    # without Gamma-Gamma the order value given is used as it is
    plain = clv.lifetime_value(fitted, None, x, t_x, T, m)[()]
    assert plain == pytest.approx(expected / value * m, rel=1e-12)


def test_churn_risk_bands():
    assert list(clv.churn_risk([0.0, 0.29, 0.3, 0.69, 0.7, 1.0])) == ["high", "high", "medium", "medium", "low", "low"]


def test_fit_uses_mle_on_cdnow(with_values):
    result = clv.fit(with_values["x"], with_values["t_x"], with_values["T"], with_values["zbar"])
    assert (result.method, result.gamma_gamma_method, result.reason) == ("mle", "mle", "")
    assert (result.customers, result.repeat_customers) == (2357, 946)
    assert result.history_days == pytest.approx(38.86 * 7)
    assert round(result.bgnbd.alpha, 3) == 4.414 and round(result.gamma_gamma.q, 2) == 3.74
    assert round(result.log_likelihood, 1) == -9582.4


def test_a_small_shop_gets_the_cdnow_prior_at_its_own_pace(with_values):
    x, t_x, T, zbar = (with_values[key][:300] for key in ("x", "t_x", "T", "zbar"))
    result = clv.fit(x, t_x, T, zbar)
    assert (result.method, result.gamma_gamma_method) == ("prior", "prior")
    assert result.repeat_customers == int((x > 0).sum()) < clv.MIN_REPEAT_CUSTOMERS
    assert result.reason.startswith("thin history:") and "repeat customers" in result.reason
    prior = clv.CDNOW_BGNBD
    assert (result.bgnbd.r, result.bgnbd.a, result.bgnbd.b) == (prior.r, prior.a, prior.b)
    # α is where the model predicts the repeat purchases the shop saw
    assert clv.expected_purchases(result.bgnbd, T, 0, 0, 0).sum() == pytest.approx(x.sum(), rel=1e-8)
    gg = result.gamma_gamma
    assert (gg.p, gg.q) == (clv.CDNOW_GAMMA_GAMMA.p, clv.CDNOW_GAMMA_GAMMA.q)
    assert gg.p * gg.gamma / (gg.q - 1) == pytest.approx(zbar[x > 0].mean())


def test_a_short_history_gets_the_prior_even_with_many_customers(with_values):
    # the same customers, their weeks read as days: 39 days of history
    result = clv.fit(with_values["x"], with_values["t_x"], with_values["T"], time_unit_days=1.0)
    assert result.method == "prior" and result.gamma_gamma_method == "none" and result.gamma_gamma is None
    assert result.reason == "thin history: 39 days of history (< 180)"


def test_a_shop_without_repeat_purchases_counts_half_of_one():
    T = np.linspace(1.0, 30.0, 40)
    result = clv.fit(np.zeros(40), np.zeros(40), T)
    assert result.method == "prior" and result.repeat_customers == 0
    assert clv.expected_purchases(result.bgnbd, T, 0, 0, 0).sum() == pytest.approx(0.5, rel=1e-8)
    assert np.isfinite(result.log_likelihood)


def test_no_customers_at_all_gets_the_cdnow_prior():
    result = clv.fit([], [], [])
    assert (result.method, result.customers, result.bgnbd) == ("prior", 0, clv.CDNOW_BGNBD)


def test_an_optimiser_that_does_not_converge_falls_back_with_its_reason(with_values):
    result = clv.fit(with_values["x"], with_values["t_x"], with_values["T"], with_values["zbar"], max_iterations=1)
    assert (result.method, result.gamma_gamma_method) == ("prior", "prior")
    assert "BG/NBD: the optimiser did not converge" in result.reason
    assert "Gamma-Gamma: the optimiser did not converge" in result.reason
    with pytest.raises(clv.FitError, match="did not converge"):
        clv.fit_bgnbd(with_values["x"], with_values["t_x"], with_values["T"], max_iterations=1)


def test_gamma_gamma_without_repeaters_is_a_fit_error():
    with pytest.raises(clv.FitError, match="no customer with a repeat purchase"):
        clv.fit_gamma_gamma([0, 0, 3], [0.0, 0.0, 0.0])


def test_weights_from_collapse_are_accepted_by_fit(with_values):
    x, t_x, T = with_values["x"], with_values["t_x"], with_values["T"]
    cx, ct_x, cT, counts = clv.collapse(x, t_x, T)
    collapsed, plain = clv.fit(cx, ct_x, cT, weights=counts), clv.fit(x, t_x, T)
    assert (collapsed.customers, collapsed.repeat_customers) == (plain.customers, plain.repeat_customers)
    assert dataclasses.astuple(collapsed.bgnbd) == pytest.approx(dataclasses.astuple(plain.bgnbd), rel=1e-9)


@pytest.mark.parametrize(("alpha", "x", "T", "t", "if_alive"), [
    (1000.0, 10, 0.0, 1e4, 13.2034118707),  # references computed with mpmath's hyp2f1 at 50 digits
    (4.0, 2, 1.0, 52.0, 12.0394331214),
    (4.0, 10, 0.0, 52.0, 13.2164731834),
])
def test_integer_r_minus_a_where_scipys_2f1_is_off_is_integrated_instead(alpha, x, T, t, if_alive):
    # r = 5, a = 10, b = 100: scipy's 2F1 gave 14.6964, 12.0306 and 13.2236, finite and wrong
    params = clv.BgNbdParams(r=5.0, alpha=alpha, a=10.0, b=100.0)
    expected = clv.expected_purchases(params, t, x, T, T) / clv.probability_alive(params, x, T, T)
    assert expected[()] == pytest.approx(if_alive, rel=1e-8)
