"""Per-thread OpenBLAS thread count for the Cox fit (see :class:`single_threaded_blas`)."""
from __future__ import annotations


class single_threaded_blas:
    """Context manager: OpenBLAS runs single-threaded in this thread while the Cox fit runs.

    The fit makes hundreds of small BLAS calls on cache-sized chunks. With OpenBLAS's worker threads
    each call pays a wake-up, and the workers' spin-waiting competes with the memory-bound NumPy work
    for the same cores: measured here (2 cores, 10⁶ × 10), the whole fit takes ~0.65 s with the default
    threads and ~0.48 s with one. ``openblas_set_num_threads_local`` (OpenBLAS >= 0.3.27) changes only
    the calling thread's setting and returns the previous one, so other threads are unaffected. Without
    that symbol (another BLAS, or an older OpenBLAS) this does nothing.
    """

    _setter = None
    _looked = False

    @classmethod
    def _find(cls):
        if cls._looked:
            return cls._setter
        cls._looked = True
        try:
            import ctypes
            import re
            with open("/proc/self/maps") as fh:
                paths = sorted(set(re.findall(r"(/\S*openblas\S*\.so\S*)", fh.read())))
            for path in paths:
                fn = getattr(ctypes.CDLL(path), "openblas_set_num_threads_local", None)
                if fn is not None:
                    fn.argtypes, fn.restype = [ctypes.c_int], ctypes.c_int
                    cls._setter = fn
                    break
        except Exception:  # pragma: no cover - non-Linux or unusual builds: keep the default threading
            cls._setter = None
        return cls._setter

    def __enter__(self):
        fn = self._find()
        self._previous = fn(1) if fn is not None else None
        return self

    def __exit__(self, *exc):
        if self._previous is not None:
            self._find()(self._previous)
        return False
