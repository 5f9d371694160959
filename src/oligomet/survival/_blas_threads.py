"""Single-threaded OpenBLAS for the many small BLAS calls of the Cox fit (see :class:`single_threaded_blas`)."""
from __future__ import annotations

import threading


class _GlobalOne:
    """NumPy's OpenBLAS (scipy-openblas64 in NumPy's wheels) has no per-thread setting, only the process-wide
    one: it is set to 1 while any thread is inside :class:`single_threaded_blas` and restored when the last
    one leaves (a lock and a count keep that right when several threads enter)."""

    def __init__(self, set_fn, get_fn):
        self._set, self._get = set_fn, get_fn
        self._lock, self._inside, self._saved = threading.Lock(), 0, 1

    def enter(self) -> None:
        with self._lock:
            if self._inside == 0:
                self._saved = self._get()
                self._set(1)
            self._inside += 1

    def keep_one(self) -> None:
        """One thread from now on, also after the threads inside leave (a worker process's setting)."""
        with self._lock:
            self._set(1)
            self._saved = 1

    def leave(self) -> None:
        with self._lock:
            self._inside -= 1
            if self._inside == 0:
                self._set(self._saved)


_GLOBAL_SETTERS = tuple(f"{prefix}openblas_set_num_threads{suffix}" for prefix in ("scipy_", "")
                        for suffix in ("64_", "_64", ""))


class single_threaded_blas:
    """Context manager: OpenBLAS runs single-threaded while the Cox fit runs.

    The fit makes hundreds of small BLAS calls on cache-sized chunks. With OpenBLAS's worker threads
    each call pays a wake-up, and the workers' spin-waiting competes with the memory-bound NumPy work
    for the same cores: measured here (2 cores, 10⁶ × 10), the whole fit takes ~0.65 s with the default
    threads and ~0.48 s with one; on a loaded 2-core machine a one-column ``X @ beta`` took ~10 ms threaded.
    NumPy and SciPy wheels each bundle their own OpenBLAS; both are set. SciPy's has
    ``openblas_set_num_threads_local`` (OpenBLAS >= 0.3.27), which changes only the calling thread's
    setting (its LAPACK calls, e.g. the propensity fit's least squares, wake its threads as well: on a
    loaded 2-core machine an 8000 x 14 QR took ~100 ms threaded, ~3 ms in one). NumPy's has only the
    process-wide setting (see :class:`_GlobalOne`). Without either symbol (another BLAS) this does nothing.
    """

    _setters: tuple = ()      # per-thread setters: set(n) -> previous
    _globals: tuple = ()      # _GlobalOne of the libraries without one
    _looked = False

    @classmethod
    def _find(cls):
        """The first per-thread setter found, or None."""
        cls._find_all()
        return cls._setters[0] if cls._setters else None

    @classmethod
    def _find_all(cls) -> None:
        if cls._looked:
            return
        cls._looked = True
        setters, globals_ = [], []
        try:
            import ctypes
            import re
            with open("/proc/self/maps") as fh:
                paths = sorted(set(re.findall(r"(/\S*openblas\S*\.so\S*)", fh.read())))
            for path in paths:
                lib = ctypes.CDLL(path)
                fn = getattr(lib, "openblas_set_num_threads_local", None)
                if fn is not None:
                    fn.argtypes, fn.restype = [ctypes.c_int], ctypes.c_int
                    setters.append(fn)
                    continue
                # the names carry the build's prefix and suffix (NumPy's: scipy_openblas_set_num_threads64_)
                for name in _GLOBAL_SETTERS:
                    set_fn = getattr(lib, name, None)
                    get_fn = getattr(lib, name.replace("set_num", "get_num"), None)
                    if set_fn is not None and get_fn is not None:
                        set_fn.argtypes, set_fn.restype = [ctypes.c_int], None
                        get_fn.argtypes, get_fn.restype = [], ctypes.c_int
                        globals_.append(_GlobalOne(set_fn, get_fn))
                        break
        except Exception:  # pragma: no cover - non-Linux or unusual builds: keep the default threading
            setters, globals_ = [], []
        cls._setters, cls._globals = tuple(setters), tuple(globals_)

    def __enter__(self):
        self._find_all()
        self._previous = [fn(1) for fn in self._setters]
        for g in self._globals:
            g.enter()
        return self

    def __exit__(self, *exc):
        for fn, previous in zip(self._setters, self._previous):
            fn(previous)
        for g in self._globals:
            g.leave()
        return False


def one_thread_for_good() -> None:
    """Make OpenBLAS single-threaded for the rest of this process: in a worker process of a pool, where the
    pool's processes are the parallelism and OpenBLAS's own threads would only spin-wait on the same cores
    (measured: a Cox analysis in a forked worker used twice the CPU with them)."""
    single_threaded_blas._find_all()
    for fn in single_threaded_blas._setters:
        fn(1)
    for g in single_threaded_blas._globals:
        g.keep_one()
