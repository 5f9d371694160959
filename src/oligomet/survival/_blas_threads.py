"""Per-thread OpenBLAS thread count for the Cox fit (see :class:`single_threaded_blas`)."""
from __future__ import annotations


class single_threaded_blas:
    """Context manager: OpenBLAS runs single-threaded in this thread while the Cox fit runs.

    The fit makes hundreds of small BLAS calls on cache-sized chunks. With OpenBLAS's worker threads
    each call pays a wake-up, and the workers' spin-waiting competes with the memory-bound NumPy work
    for the same cores: measured here (2 cores, 10⁶ × 10), the whole fit takes ~0.65 s with the default
    threads and ~0.48 s with one. ``openblas_set_num_threads_local`` (OpenBLAS >= 0.3.27) changes only
    the calling thread's setting and returns the previous one, so other threads are unaffected. Without
    that symbol (another BLAS, or an older OpenBLAS) this does nothing. NumPy and SciPy wheels each bundle
    their own OpenBLAS; both are set (SciPy's LAPACK calls, e.g. the propensity fit's least squares, wake
    its threads as well: on a loaded 2-core machine an 8000 x 14 QR took ~100 ms threaded, ~3 ms in one).
    """

    _setters: tuple = ()
    _looked = False

    @classmethod
    def _find(cls):
        """The first setter found (NumPy's OpenBLAS), or None."""
        setters = cls._find_all()
        return setters[0] if setters else None

    @classmethod
    def _find_all(cls) -> tuple:
        if cls._looked:
            return cls._setters
        cls._looked = True
        setters = []
        try:
            import ctypes
            import re
            with open("/proc/self/maps") as fh:
                paths = sorted(set(re.findall(r"(/\S*openblas\S*\.so\S*)", fh.read())))
            for path in paths:
                fn = getattr(ctypes.CDLL(path), "openblas_set_num_threads_local", None)
                if fn is not None:
                    fn.argtypes, fn.restype = [ctypes.c_int], ctypes.c_int
                    setters.append(fn)
        except Exception:  # pragma: no cover - non-Linux or unusual builds: keep the default threading
            setters = []
        cls._setters = tuple(setters)
        return cls._setters

    def __enter__(self):
        self._previous = [fn(1) for fn in self._find_all()]
        return self

    def __exit__(self, *exc):
        for fn, previous in zip(self._find_all(), self._previous):
            fn(previous)
        return False
