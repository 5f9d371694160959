"""The synthetic registry is a function of its seed only, not of Python's per-process string hashing."""
import os
import subprocess
import sys

CODE = """
import hashlib, oligomet.datasets as ds
t = ds.synthetic_registry(600, seed=5)
print(hashlib.sha256(b''.join(t[k].to_csv(index=False).encode() for k in sorted(t))).hexdigest())
"""


def _digest(hashseed: str) -> str:
    env = {**os.environ, "PYTHONHASHSEED": hashseed}
    return subprocess.run([sys.executable, "-c", CODE], env=env, capture_output=True, text=True,
                          check=True).stdout.strip()


def test_same_seed_same_registry_across_processes():
    digests = {_digest(h) for h in ("1", "2", "3")}
    assert len(digests) == 1, digests
