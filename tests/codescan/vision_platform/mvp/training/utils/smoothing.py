"""Smoothing of per-epoch metrics."""


def temporal_smoothing(values, window=3):
    """Moving average over `window` epochs (temporal_smoothing keeps the length)."""
    smoothed = []
    for n in range(len(values)):
        chunk = values[max(0, n - window + 1) : n + 1]
        smoothed.append(sum(chunk) / len(chunk))
    return smoothed
