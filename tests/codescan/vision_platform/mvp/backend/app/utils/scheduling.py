"""Job placement helpers."""


def redistribute(jobs, workers):
    """Spread jobs evenly over workers.

    A redis queue may replace this once Celery arrives; until then it is all in memory.
    """
    buckets = [[] for _ in workers]
    for n, job in enumerate(jobs):
        buckets[n % len(workers)].append(job)
    return buckets
