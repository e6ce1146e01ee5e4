"""The Python package (issue 14): every call of the README's Python example, the errors,
and the notebook display (``_repr_latex_``) rendered by KaTeX.

Run by .ci/run in a virtual environment with the package installed (``pip install .``),
numpy and pytest. The text results are compared with the command line of the same
checkout (``MATDIFF_BIN``, default ``target/release/matdiff``: ``cargo build --release``
first), every derivative the tests evaluate is compared with finite differences, and the
KaTeX test needs ``npm ci --prefix .ci/katex``.
"""

import json
import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

import matdiff

ROOT = Path(__file__).resolve().parents[2]
PROG = "x : R^n; A : R^(n×n); xᵀ A x"


def cli(source, *args):
    """The command line's (stdout, stderr, exit status) for a program."""
    target = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))
    binary = Path(os.environ.get("MATDIFF_BIN", target / "release" / "matdiff"))
    assert binary.is_file(), f"{binary} is missing: run `cargo build --release` first"
    run = subprocess.run(
        [str(binary), source, *args], capture_output=True, text=True, encoding="utf-8"
    )
    return run.stdout, run.stderr, run.returncode


def inputs(seed=0, n=4):
    rng = np.random.default_rng(seed)
    return rng.standard_normal(n), rng.standard_normal((n, n))


def numeric_gradient(f, x, h=1e-6):
    """Central finite differences of a scalar function of one array."""
    g = np.zeros(x.shape)
    for i in np.ndindex(x.shape):
        e = np.zeros(x.shape)
        e[i] = h
        g[i] = (f(x + e) - f(x - e)) / (2 * h)
    return g


# --- derive, the result's fields ------------------------------------------------------


def test_derive_one_variable_matches_the_cli():
    r = matdiff.derive(PROG, wrt="x")
    assert isinstance(r, matdiff.Result)
    stdout, _, code = cli(PROG, "--wrt", "x")
    assert code == 0
    assert stdout == f"∂f/∂x = {r.text}\n"
    assert str(r) == r.text
    assert (r.wrt, r.kind, r.shape, r.label) == ("x", "gradient", ("n", "1"), "∂f/∂x")
    assert r.expr_text == r.text and r.where == []
    assert r.items == (r,) and r.hessian is None and r.source == PROG
    assert repr(r) == f"<Result ∂f/∂x = {r.text}>"


def test_where_lines_are_part_of_the_text():
    prog = "x : R^n; exp(xᵀ x) + exp(xᵀ x)^2"
    r = matdiff.derive(prog, wrt="x")
    stdout, _, _ = cli(prog, "--wrt", "x")
    assert stdout == f"{r.label} = {r.text}\n"
    assert r.where, "this program has a shared sub-term"
    assert r.text == r.expr_text + "".join(f"\n  where {n} = {d}" for n, d in r.where)
    assert r.latex.count(r"\text{where }") == 1


def test_latex_matches_the_cli_and_repr_latex_wraps_it():
    r = matdiff.derive(PROG, wrt="x")
    stdout, _, _ = cli(PROG, "--wrt", "x", "--format", "latex")
    assert stdout == r.latex + "\n"
    assert r.latex.startswith(r"\frac{\partial f}{\partial x} = ")
    assert r._repr_latex_() == f"${r.latex}$"


def test_a_list_of_variables_gives_a_list_in_that_order():
    rs = matdiff.derive(PROG, wrt=["A", "x"])
    assert isinstance(rs, list) and [r.wrt for r in rs] == ["A", "x"]
    stdout, _, _ = cli(PROG, "--wrt", "A", "--wrt", "x")
    assert stdout == "".join(f"{r.label} = {r.text}\n" for r in rs)
    assert rs[0].shape == ("n", "n") and rs[0].kind == "gradient"


def test_no_wrt_gives_every_variable():
    rs = matdiff.derive(PROG)
    assert [r.wrt for r in rs] == ["x", "A"]
    stdout, _, _ = cli(PROG)
    assert stdout == "".join(f"{r.label} = {r.text}\n" for r in rs)


def test_ascii_spelling_of_a_greek_variable():
    r = matdiff.derive("α : R; x : R^n; α xᵀ x", wrt="alpha")
    assert r.wrt == "α" and r.kind == "gradient" and r.shape == ("1", "1")
    stdout, _, _ = cli("α : R; x : R^n; α xᵀ x", "--wrt", "alpha")
    assert stdout == f"{r.label} = {r.text}\n"


def test_a_matrix_function_gives_the_differential_and_the_jacobian():
    prog = "X : R^(n×n); sin(X) X"
    r = matdiff.derive(prog, wrt="X")
    assert [i.kind for i in r.items] == ["differential", "vec_jacobian"]
    assert (r.kind, r.label, r.shape) == ("differential", "df", ("n", "n"))
    assert r.items[1].shape == ("n*n", "n*n")
    stdout, _, _ = cli(prog)
    assert stdout == "".join(f"{i.label} = {i.text}\n" for i in r.items)


def test_wrt_must_name_variables():
    with pytest.raises(ValueError, match="wrt=\\[\\]"):
        matdiff.derive(PROG, wrt=[])
    with pytest.raises(TypeError):
        matdiff.derive(PROG, wrt=["x", 1])


# --- NumPy ------------------------------------------------------------------------------


def test_numpy_source_is_the_cli_module():
    r = matdiff.derive(PROG, wrt="x")
    stdout, _, _ = cli(PROG, "--wrt", "x", "--format", "numpy")
    assert r.numpy_source == stdout


def test_numpy_module_values_and_gradient():
    m = matdiff.derive(PROG, wrt="x").numpy()
    for seed in range(3):
        x, A = inputs(seed)
        assert m.f(x=x, A=A) == pytest.approx(x @ A @ x)
        g = m.d_x(x=x, A=A)
        assert g.shape == x.shape
        np.testing.assert_allclose(g, numeric_gradient(lambda v: m.f(x=v, A=A), x), rtol=1e-6, atol=1e-8)
    assert not hasattr(m, "d_A")
    assert matdiff.derive(PROG, wrt="x").numpy() is not m  # one module per derive call


def test_numpy_module_of_several_variables():
    rs = matdiff.derive(PROG)
    m = rs[0].numpy()
    assert rs[1].numpy() is m
    x, A = inputs(1)
    np.testing.assert_allclose(
        m.d_A(x=x, A=A), numeric_gradient(lambda M: m.f(x=x, A=M), A), rtol=1e-6, atol=1e-8
    )


# --- Hessian ----------------------------------------------------------------------------


def test_hessian():
    r = matdiff.derive(PROG, wrt="x", hessian=True)
    assert r.kind == "gradient"
    h = r.hessian
    assert isinstance(h, matdiff.ResultItem)
    assert (h.wrt, h.kind, h.shape, h.label) == ("x", "hessian", ("n", "n"), "∂²f/∂x∂xᵀ")
    assert r.items == (r, h)
    stdout, _, _ = cli(PROG, "--wrt", "x", "--hessian")
    assert stdout == f"{r.label} = {r.text}\n{h.label} = {h.text}\n"
    assert h._repr_latex_() == f"${h.latex}$"
    m = r.numpy()
    for seed in range(3):
        x, A = inputs(seed)
        H = m.h_x(x=x, A=A)
        # row i: the numeric gradient of the i-th entry of the gradient
        J = np.stack([numeric_gradient(lambda v: m.d_x(x=v, A=A)[i], x) for i in range(len(x))])
        np.testing.assert_allclose(H, J, rtol=1e-6, atol=1e-8)


def test_hessian_of_a_matrix_variable():
    r = matdiff.derive(PROG, wrt="A", hessian=True)
    assert [i.kind for i in r.items] == ["gradient", "second_differential", "hessian"]
    assert r.hessian is r.items[2] and r.hessian.shape == ("n*n", "n*n")


# --- explain and check ------------------------------------------------------------------


def test_explain_matches_the_cli():
    r = matdiff.derive(PROG, wrt="x", explain=True)
    stdout, _, _ = cli(PROG, "--wrt", "x", "--explain")
    assert stdout == f"{r.label} = {r.text}\n\n{r.explain()}"
    assert r.explain().startswith("∂f/∂x = grad(xᵀ A x, x)\n")
    stdout, _, _ = cli(PROG, "--wrt", "x", "--explain", "--format", "latex")
    assert stdout == f"{r.latex}\n\n{r.explain(latex=True)}"
    assert r.explain(latex=True).startswith("\\begin{align*}")


def test_explain_without_explain_derives_again():
    r = matdiff.derive(PROG, wrt="x")
    with_explain = matdiff.derive(PROG, wrt="x", explain=True)
    assert r.explain() == with_explain.explain()
    assert r.explain(latex=True, hadamard="circ") == with_explain.explain(latex=True, hadamard="circ")
    with pytest.raises(ValueError, match="hadamard"):
        r.explain(latex=True, hadamard="dot")


def test_explain_of_a_hessian_says_there_is_none():
    r = matdiff.derive(PROG, wrt="x", hessian=True)
    assert "∂f/∂x = grad(xᵀ A x, x)" in r.explain()
    assert r.hessian is not None and not hasattr(r.hessian, "explain")


def test_check_passes_and_reports():
    report = matdiff.derive(PROG, hessian=True)[0].check(seeds=2)
    assert report.startswith("check: passed")
    assert "2 random inputs" in report
    _, stderr, code = cli(PROG, "--hessian", "--check", "--seeds", "2")
    assert code == 0 and stderr.rstrip("\n") == report


def test_check_error_is_a_matdiff_error():
    # A passing engine gives no failing check to trigger: the class contract.
    e = matdiff.CheckError("check: FAILED")
    assert isinstance(e, matdiff.MatdiffError) and isinstance(e, ValueError)
    assert (str(e), e.line, e.column) == ("check: FAILED", None, None)


# --- errors -----------------------------------------------------------------------------


def test_bad_input_raises_with_the_cli_diagnostic():
    prog = "W : R^(m×n); x : R^p; W x"
    with pytest.raises(matdiff.MatdiffError) as info:
        matdiff.derive(prog)
    e = info.value
    assert isinstance(e, ValueError) and type(e) is matdiff.MatdiffError
    _, stderr, code = cli(prog)
    assert code == 2
    assert str(e) == e.message == stderr.rstrip("\n")
    assert (e.line, e.column) == (1, 23)
    assert "^^^" in str(e) and "1 | W : R^(m×n); x : R^p; W x" in str(e)


def test_syntax_error_on_a_later_line():
    prog = "x : R^n\nxᵀ x +"
    with pytest.raises(matdiff.MatdiffError) as info:
        matdiff.derive(prog, wrt="x")
    _, stderr, code = cli(prog, "--wrt", "x")
    assert code == 2 and str(info.value) == stderr.rstrip("\n")
    assert info.value.line == 2 and info.value.column is not None


def test_unknown_variable():
    with pytest.raises(matdiff.MatdiffError) as info:
        matdiff.derive(PROG, wrt="y")
    _, stderr, code = cli(PROG, "--wrt", "y")
    assert code == 2 and str(info.value) == stderr.rstrip("\n")
    assert "unknown variable `y`" in str(info.value)
    assert (info.value.line, info.value.column) == (None, None)


def test_hessian_of_a_matrix_expression_is_bad_input():
    with pytest.raises(matdiff.MatdiffError, match="--hessian needs a scalar expression"):
        matdiff.derive("X : R^(n×n); sin(X) X", hessian=True)


def test_engine_limits_are_keywords():
    prog = "X : R^(n×n); log(det(X)) + tr(X⁻¹ X⁻¹)"
    with pytest.raises(matdiff.EngineError) as info:
        matdiff.derive(prog, wrt="X", node_limit=10)
    assert "node limit" in str(info.value) and "raise it with node_limit=" in str(info.value)
    assert isinstance(info.value, matdiff.MatdiffError)
    assert (info.value.line, info.value.column) == (None, None)
    r = matdiff.derive(prog, wrt="X", time_limit=60, node_limit=100_000, iter_limit=50)
    assert r.text == matdiff.derive(prog, wrt="X").text
    with pytest.raises(ValueError, match="time_limit"):
        matdiff.derive(prog, wrt="X", time_limit=-1)


def test_exception_hierarchy():
    for cls in (matdiff.EngineError, matdiff.NumpyError, matdiff.CheckError):
        assert issubclass(cls, matdiff.MatdiffError)
    assert issubclass(matdiff.MatdiffError, ValueError)


# --- the notebook: _repr_latex_ typeset by KaTeX --------------------------------------


def test_notebook_display_renders_with_katex(tmp_path):
    """What Jupyter does with each result: call ``_repr_latex_`` and typeset the math
    between the dollars; here KaTeX (.ci/katex/check.js, as tests/matdiff/latex.rs)."""
    node = shutil.which("node")
    assert node, "node is needed for the KaTeX check"
    programs = [
        (PROG, dict(hessian=True)),
        ("x : R^n; exp(xᵀ x) + exp(xᵀ x)^2", {}),
        ("X : R^(n×n); sin(X) X", {}),
        ("α : R; W : R^(m×n); x : R^n; α norm(W x)^2", {}),
    ]
    shown = []
    for prog, kw in programs:
        for r in matdiff.derive(prog, **kw):
            for obj in r.items:
                html = getattr(obj, "_repr_latex_")()  # IPython's LaTeX formatter
                assert html.startswith("$") and html.endswith("$") and not html.startswith("$$")
                shown.append(html[1:-1])
    fragments = shown + [matdiff.derive(PROG, wrt="x").explain(latex=True)]
    (tmp_path / "input.json").write_text(json.dumps({"fragments": fragments}), encoding="utf-8")
    run = subprocess.run(
        [node, str(ROOT / ".ci/katex/check.js"), str(tmp_path / "input.json")],
        capture_output=True,
        text=True,
    )
    assert run.returncode == 0, f"KaTeX missing? (npm ci --prefix .ci/katex)\n{run.stdout}{run.stderr}"
    lines = run.stdout.splitlines()
    assert lines[0].startswith("katex ")
    assert lines[1:] == [f"ok fragment {i}" for i in range(len(fragments))], run.stdout


def test_readme_example_runs(capsys):
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Python and Jupyter", 1)[1]
    code = section.split("```python\n", 1)[1].split("```", 1)[0]
    exec(compile(code, "README.md", "exec"), {})
    r = matdiff.derive(PROG, wrt="x")
    printed = capsys.readouterr().out
    assert printed.startswith(f"{r.text}\n{r.hessian or matdiff.derive(PROG, wrt='x', hessian=True).hessian}\n")
    assert f"      = {r.text}" in printed  # the derivation ends at the result
