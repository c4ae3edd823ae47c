"""Peak memory of a process tree, for the benchmarks."""

from __future__ import annotations

import threading
import time

import psutil


class PeakRSS:
    """Samples memory of this process and all its children until stopped.

    ``peak`` sums RSS over the tree (forked workers share pages with the parent, so this
    counts shared pages more than once: an upper bound); ``peak_pss`` sums PSS (shared pages
    split between the processes sharing them), which is what the tree really occupies.
    """

    def __init__(self, interval: float = 0.05):
        self.interval, self.peak, self.peak_pss = interval, 0, 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        me = psutil.Process()
        while not self._stop.is_set():
            rss = pss = 0
            for p in [me, *me.children(recursive=True)]:
                try:
                    info = p.memory_full_info()
                    rss += info.rss
                    pss += getattr(info, "pss", info.rss)
                except psutil.Error:
                    pass
            self.peak = max(self.peak, rss)
            self.peak_pss = max(self.peak_pss, pss)
            time.sleep(self.interval)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
