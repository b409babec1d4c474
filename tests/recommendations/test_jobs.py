"""The count update job: queued once per shop, idempotent, nothing for a shop that left."""

from __future__ import annotations

from jobs import recommendations as jobs
from jobs.queues import queue
from tests.helpers import run_jobs
from tests.recommendations.support import EXPECTED_PAIRS, catalogue, history, pair_counts, write


def test_the_job_counts_new_orders_once_however_often_it_runs(session, shop):
    write(shop, *catalogue(), *history())
    jobs.request_pair_update(shop.id)
    jobs.request_pair_update(shop.id)
    assert [job.id for job in queue("default").get_jobs()] == [f"recommendations-pairs-{shop.id}"]
    assert run_jobs() == []
    assert pair_counts(shop) == EXPECTED_PAIRS
    assert jobs.update_pairs(shop.id) == {"orders_read": 0, "orders_changed": 0}
    assert pair_counts(shop) == EXPECTED_PAIRS


def test_the_periodic_job_queues_active_shops_and_a_shop_that_left_is_not_counted(session, shop, other_shop):
    write(shop, *catalogue(), *history())
    other_shop.status = "uninstalled"
    session.commit()
    assert jobs.update_pairs(other_shop.id) == {}
    assert jobs.update_pairs_all_shops() == 1
    assert run_jobs() == []
    assert pair_counts(shop) == EXPECTED_PAIRS
