#!/usr/bin/env python3
"""Benchmark matdiff's generated NumPy gradients and Hessians (issue 10).

    python3 benches/numpy_hessian.py [--bin target/release/matdiff] [--quick]

On its first run it creates benches/.venv (numpy, jax[cpu], torch) and re-runs itself
there. For three problems (Laue, Mitterreiter and Giesen, NeurIPS 2018) it generates
the modules with `matdiff --format numpy --hessian`, then times, single-threaded and in
float64:
  * matdiff's d_X and h_X,
  * jax.jit(jax.grad(f)) and jax.jit(jax.hessian(f)),
  * torch.autograd.grad and torch.autograd.functional.hessian (vectorize=True),
  * hand-written textbook NumPy gradient and Hessian,
checks that all results agree, measures the peak memory (tracemalloc) of h_X relative
to the size of its output, and prints a markdown table. It is a benchmark, not a test:
no timing is asserted.
"""

import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
VENV = os.path.join(HERE, ".venv")
VPY = os.path.join(VENV, "bin", "python")

THREADS = {
    "OMP_NUM_THREADS": "1",
    "OPENBLAS_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "VECLIB_MAXIMUM_THREADS": "1",
    "NUMEXPR_NUM_THREADS": "1",
    "XLA_FLAGS": "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1",
    "JAX_PLATFORMS": "cpu",
}


def ensure_venv():
    """Re-run this script inside benches/.venv (created on first use), single-threaded."""
    inside = os.path.realpath(sys.prefix) == os.path.realpath(VENV)
    if inside and all(os.environ.get(k) == v for k, v in THREADS.items()):
        return
    if not os.path.exists(VPY):
        print(f"creating {VENV} (numpy, jax[cpu], torch) ...", file=sys.stderr)
        subprocess.check_call([sys.executable, "-m", "venv", VENV])
        subprocess.check_call([VPY, "-m", "pip", "install", "--quiet", "numpy", "jax[cpu]", "torch"])
    env = dict(os.environ, **THREADS)
    os.execve(VPY, [VPY, os.path.abspath(__file__)] + sys.argv[1:], env)


ensure_venv()

import argparse  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402
import tracemalloc  # noqa: E402

import numpy as np  # noqa: E402
import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import torch  # noqa: E402

jax.config.update("jax_enable_x64", True)
torch.set_num_threads(1)
torch.set_default_dtype(torch.float64)


# --------------------------------------------------------------------------------------
# the problems: program, variable, sizes, inputs, and f / gradient / Hessian by hand

def sigmoid(a):
    return 1.0 / (1.0 + np.exp(-a))


def quadratic(quick):
    n = 300 if quick else 3000
    rng = np.random.default_rng(0)
    env = {"x": rng.standard_normal(n), "A": rng.standard_normal((n, n))}
    return dict(
        name=f"`xᵀ A x`, n = {n}",
        program="x : R^n; A : R^(n×n); xᵀ A x",
        wrt="x",
        env=env,
        jax_f=lambda x, A: x @ A @ x,
        torch_f=lambda x, A: x @ A @ x,
        grad=lambda x, A: A @ x + A.T @ x,
        hess=lambda x, A: A + A.T,
    )


def logistic(quick):
    m, n = (200, 50) if quick else (2000, 500)
    rng = np.random.default_rng(1)
    env = {
        "X": rng.standard_normal((m, n)),
        "w": rng.standard_normal(n) / np.sqrt(n),
        "y": np.sign(rng.standard_normal(m)),
    }

    def grad(X, w, y):
        return -(X.T @ (y * sigmoid(-y * (X @ w))))

    def hess(X, w, y):
        s = sigmoid(-y * (X @ w))
        return X.T @ (X * (y * y * s * (1.0 - s))[:, None])

    return dict(
        name=f"logistic regression, m = {m}, n = {n}",
        program="X : R^(m×n); w : R^n; y : R^m; sum(log(1 + exp(-y ∘ (X w))))",
        wrt="w",
        env=env,
        jax_f=lambda X, w, y: jnp.sum(jnp.log(1.0 + jnp.exp(-y * (X @ w)))),
        torch_f=lambda X, w, y: torch.sum(torch.log(1.0 + torch.exp(-y * (X @ w)))),
        grad=grad,
        hess=hess,
    )


def factorisation(quick):
    m, n, r = (20, 16, 4) if quick else (100, 80, 10)
    rng = np.random.default_rng(2)
    env = {
        "M": (rng.random((m, n)) < 0.5).astype(float),
        "T": rng.standard_normal((m, n)),
        "U": rng.standard_normal((m, r)),
        "V": rng.standard_normal((n, r)),
    }

    def grad(M, T, U, V):
        return -2.0 * ((M * M * (T - U @ V.T)) @ V)

    def hess(M, T, U, V):
        # H[i, a, j, b] = 2 δ_ij Σ_k M[i,k]² V[k,a] V[k,b]
        m, r = U.shape
        h = np.zeros((m, r, m, r))
        i = np.arange(m)
        h[i, :, i, :] = 2.0 * np.einsum("ik,ka,kb->iab", M * M, V, V)
        return h

    return dict(
        name=f"matrix factorisation wrt U, m = {m}, n = {n}, r = {r}",
        program="M : R^(m×n); T : R^(m×n); U : R^(m×r); V : R^(n×r); sum((M ∘ (T - U Vᵀ)).^2)",
        wrt="U",
        env=env,
        jax_f=lambda M, T, U, V: jnp.sum((M * (T - U @ V.T)) ** 2),
        torch_f=lambda M, T, U, V: torch.sum((M * (T - U @ V.T)) ** 2),
        grad=grad,
        hess=hess,
    )


# --------------------------------------------------------------------------------------
# measuring

def timed(fn, budget):
    """Median seconds of fn() over repeated runs (after one warm-up) within ~budget s."""
    fn()
    times = []
    start = time.perf_counter()
    while len(times) < 3 or (time.perf_counter() - start < budget and len(times) < 200):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
        if times[-1] > budget:
            break
    return statistics.median(times)


def peak_ratio(fn):
    """Peak memory traced during fn(), divided by the size of its result."""
    tracemalloc.start()
    tracemalloc.reset_peak()
    out = fn()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak / np.asarray(out).nbytes


def rel(a, b):
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    return float(np.linalg.norm((a - b).ravel()) / max(np.linalg.norm(b.ravel()), 1e-300))


def generate(binary, program, wrt):
    src = subprocess.check_output(
        [binary, "--format", "numpy", "--hessian", "--wrt", wrt, program], text=True
    )
    namespace = {}
    exec(compile(src, f"<matdiff {wrt}>", "exec"), namespace)
    return namespace


def run(problem, binary, budget):
    p = problem
    env, wrt = p["env"], p["wrt"]
    names = list(env)
    k = names.index(wrt)
    mod = generate(binary, p["program"], wrt)
    d_md = lambda: mod[f"d_{wrt}"](**env)  # noqa: E731
    h_md = lambda: mod[f"h_{wrt}"](**env)  # noqa: E731
    d_tb = lambda: p["grad"](**env)  # noqa: E731
    h_tb = lambda: p["hess"](**env)  # noqa: E731

    jargs = [jnp.asarray(env[v]) for v in names]
    jgrad = jax.jit(jax.grad(p["jax_f"], argnums=k))
    jhess = jax.jit(jax.hessian(p["jax_f"], argnums=k))
    d_jax = lambda: jgrad(*jargs).block_until_ready()  # noqa: E731
    h_jax = lambda: jhess(*jargs).block_until_ready()  # noqa: E731

    targs = [torch.tensor(env[v]) for v in names]

    def closure(t):
        a = list(targs)
        a[k] = t
        return p["torch_f"](*a)

    def d_torch():
        t = targs[k].clone().requires_grad_(True)
        return torch.autograd.grad(closure(t), t)[0]

    def h_torch():
        return torch.autograd.functional.hessian(closure, targs[k], vectorize=True)

    results = {
        "d": {"matdiff": d_md(), "jax": d_jax(), "torch": d_torch(), "textbook": d_tb()},
        "h": {"matdiff": h_md(), "jax": h_jax(), "torch": h_torch(), "textbook": h_tb()},
    }
    worst = 0.0
    for kind, rs in results.items():
        ref = np.asarray(rs["textbook"])
        for who, r in rs.items():
            r = np.asarray(r)
            if r.shape != ref.shape:
                raise SystemExit(f"{p['name']}: {kind} of {who} has shape {r.shape}, textbook {ref.shape}")
            worst = max(worst, rel(r, ref))
    if worst > 1e-8:
        raise SystemExit(f"{p['name']}: results disagree (relative error {worst:.2e})")

    t = {
        "d": {w: timed(f, budget) for w, f in
              [("matdiff", d_md), ("jax", d_jax), ("torch", d_torch), ("textbook", d_tb)]},
        "h": {w: timed(f, budget) for w, f in
              [("matdiff", h_md), ("jax", h_jax), ("torch", h_torch), ("textbook", h_tb)]},
    }
    return dict(name=p["name"], t=t, worst=worst, mem=peak_ratio(h_md), mem_tb=peak_ratio(h_tb))


def ms(s):
    v = s * 1e3
    if v < 1:
        return f"{v * 1e3:,.0f} µs"
    return f"{v:,.1f} ms" if v < 100 else f"{v:,.0f} ms"


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    target = os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target"))
    ap.add_argument("--bin", default=os.path.join(target, "release", "matdiff"))
    ap.add_argument("--quick", action="store_true", help="small sizes (a smoke run)")
    ap.add_argument("--budget", type=float, default=2.0, help="seconds of timing per measurement")
    a = ap.parse_args()
    if not os.path.exists(a.bin):
        raise SystemExit(f"no binary at {a.bin}: run `cargo build --release` first (or pass --bin)")
    print(f"numpy {np.__version__}, jax {jax.__version__}, torch {torch.__version__}; "
          "single-threaded, float64; median times\n")
    rows = [run(p(a.quick), a.bin, a.budget) for p in (quadratic, logistic, factorisation)]
    print("| problem | matdiff `h_X` | `jax.jit(jax.hessian)` | torch `hessian` | textbook `h` "
          "| `h_X` vs jax | `h_X` vs textbook | matdiff `d_X` | `jax.jit(jax.grad)` | torch `grad` "
          "| textbook gradient | `d_X` vs textbook | peak memory of `h_X` / output (textbook) |")
    print("|" + "---|" * 13)
    for r in rows:
        h, d = r["t"]["h"], r["t"]["d"]
        print(f"| {r['name']} | {ms(h['matdiff'])} | {ms(h['jax'])} | {ms(h['torch'])} | "
              f"{ms(h['textbook'])} | {h['matdiff'] / h['jax']:.2f}× | "
              f"{h['matdiff'] / h['textbook']:.2f}× | {ms(d['matdiff'])} | {ms(d['jax'])} | "
              f"{ms(d['torch'])} | {ms(d['textbook'])} | {d['matdiff'] / d['textbook']:.2f}× | "
              f"{r['mem']:.2f} ({r['mem_tb']:.2f}) |")
    print()
    print("all results agree: largest relative difference from the textbook "
          f"{max(r['worst'] for r in rows):.1e}")
    print("targets (issue 10): h_X at most jax's time and 2.5× the textbook's, "
          "d_X at most 2× the textbook's, peak memory of h_X at most 2× its output")
    for r in rows:
        h, d = r["t"]["h"], r["t"]["d"]
        misses = []
        if h["matdiff"] > h["jax"]:
            misses.append("h_X slower than jax")
        if h["matdiff"] > 2.5 * h["textbook"]:
            misses.append("h_X over 2.5× textbook")
        if d["matdiff"] > 2.0 * d["textbook"]:
            misses.append("d_X over 2× textbook")
        if r["mem"] > 2.0:
            misses.append("h_X memory over 2× output")
        print(f"- {r['name']}: " + ("meets all targets" if not misses else "; ".join(misses)))


if __name__ == "__main__":
    main()
