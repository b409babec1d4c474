"""Background work: plain functions that take ids, enqueued through ``jobs.queues.enqueue``."""
