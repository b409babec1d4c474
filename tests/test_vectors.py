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


@pytest.mark.parametrize("name", sorted(PUBLISHED))
def test_the_vectors_the_tests_read_are_the_published_ones(name):
    for folder in {SHARED, VENDORED_SHARED}:
        digest = hashlib.sha256((folder / "fixtures" / name).read_bytes()).hexdigest()
        assert digest == PUBLISHED[name], f"{folder / 'fixtures' / name} differs from the published vectors"
