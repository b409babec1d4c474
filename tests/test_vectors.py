"""The published test vectors are used verbatim: the copy kept in the repository is byte for byte."""

from __future__ import annotations

import hashlib

import pytest

from tests.conftest import SHARED, VENDORED_SHARED

# sha256 of the published files (../shared/fixtures), recorded when they were copied.
PUBLISHED = {
    "shopify_vectors.json": "cacbf342bca11cc0796922bb49e68ac6b2f9a4d9ed413a3b5f4933213b1927b9",
    "woocommerce_vectors.json": "93d3d3c61621b98c5dd3c5ad2e1628a90c524dc2c1142148474d2cefa38ed165",
}
# sha256 of the CDNOW sample (../shared/benchdata) that the churn and lifetime-value tests read.
BENCHDATA = {
    "CDNOW_sample.txt": "6fae10155c0b0ba363c2c386e30f77990d22328220efd862a5edd1443420d94a",
    "cdnow_customers_summary.csv": "09d92ca80daaabe8be0f997d4c539f9c9606106baa5b199081fe01cbce5fa9f6",
    "cdnow_customers_summary_with_transactions.csv":
        "7ddd11b55be3227edfc1d58675154e96971b0de3ad37ddd9280d1dba154b8b2f",
}


@pytest.mark.parametrize("name", sorted(PUBLISHED))
def test_the_vectors_the_tests_read_are_the_published_ones(name):
    for folder in {SHARED, VENDORED_SHARED}:
        digest = hashlib.sha256((folder / "fixtures" / name).read_bytes()).hexdigest()
        assert digest == PUBLISHED[name], f"{folder / 'fixtures' / name} differs from the published vectors"


@pytest.mark.parametrize("name", sorted(BENCHDATA))
def test_the_cdnow_sample_the_tests_read_is_the_published_one(name):
    for folder in {SHARED, VENDORED_SHARED}:
        digest = hashlib.sha256((folder / "benchdata" / name).read_bytes()).hexdigest()
        assert digest == BENCHDATA[name], f"{folder / 'benchdata' / name} differs from the published sample"
