"""matdiff: symbolic differentiation of matrix expressions, from Python.

    >>> import matdiff
    >>> r = matdiff.derive("x : R^n; A : R^(n×n); xᵀ A x", wrt="x")
    >>> print(r)
    (A + Aᵀ) x
    >>> r.label, r.kind, r.shape
    ('∂f/∂x', 'gradient', ('n', '1'))

:func:`derive` returns a :class:`Result` per variable; in a notebook a result displays
as typeset math (``_repr_latex_``). ``r.numpy()`` imports the NumPy module of the
derivation, ``r.explain()`` shows how a gradient was derived and ``r.check()`` checks
every result against finite differences. Bad input raises :class:`MatdiffError` with the
same diagnostic the command line prints.

The language is the command line's: see the README of the repository.
"""

from __future__ import annotations

import types
from typing import List, Optional, Sequence, Tuple, Union

from . import _matdiff

__all__ = [
    "derive",
    "Result",
    "ResultItem",
    "MatdiffError",
    "EngineError",
    "NumpyError",
    "CheckError",
    "__version__",
]

__version__: str = _matdiff.__version__


class MatdiffError(ValueError):
    """Bad input: a syntax or shape error, an unknown variable in ``wrt``, or a request
    that does not fit the expression.

    The message is the diagnostic the command line prints (the source line, a caret
    under the place, notes). Every other error matdiff raises is a subclass.

    Attributes:
        message: the diagnostic, as ``str(error)``.
        line: the 1-based line of the place it points at, or ``None`` when it is about
            an argument (``wrt``, ``hessian``) rather than the program.
        column: the 1-based column (in characters) of that place, or ``None``.
    """

    def __init__(self, message: str, line: Optional[int] = None, column: Optional[int] = None):
        super().__init__(message)
        self.message = message
        self.line = line
        self.column = column


class EngineError(MatdiffError):
    """The engine produced no result: no derivative rule applies to a construct, or a
    limit (``node_limit``, ``time_limit``, ``iter_limit``) was reached first.
    ``line`` and ``column`` are ``None``."""


class NumpyError(MatdiffError):
    """A result has no NumPy form (raised by :attr:`Result.numpy_source` and
    :meth:`Result.numpy`). ``line`` and ``column`` are ``None``."""


class CheckError(MatdiffError):
    """A result disagrees with finite differences (raised by :meth:`Result.check`):
    the message is the check's report. Please report it: it is a bug in matdiff.
    ``line`` and ``column`` are ``None``."""


_FLAGS = (
    ("--node-limit", "node_limit="),
    ("--time-limit", "time_limit="),
    ("--iter-limit", "iter_limit="),
)


def _convert(failure: _matdiff.Failure) -> MatdiffError:
    """The Python exception for a failure of the extension module."""
    kind, message, line, column = failure.args
    message = message.rstrip("\n")
    if kind == "input":
        return MatdiffError(message, line or None, column or None)
    if kind == "engine":
        for flag, keyword in _FLAGS:
            message = message.replace(flag, keyword)
        return EngineError(message)
    return NumpyError(message)


class _Session:
    """One call of :func:`derive`: the arguments, the derivation, and what was computed
    from it on demand (the NumPy module, the derivation with explanations)."""

    def __init__(self, source: str, wrt: List[str], hessian: bool, explain: bool, limits: dict):
        self.source = source
        self.wrt = wrt
        self.hessian = hessian
        self.limits = limits
        self.derivation = self._derive(explain)
        self.explained = self.derivation if explain else None
        self._module: Optional[types.ModuleType] = None
        self._numpy_source: Optional[str] = None

    def _derive(self, explain: bool) -> _matdiff.Derivation:
        try:
            return _matdiff.derive(
                self.source, self.wrt, hessian=self.hessian, explain=explain, **self.limits
            )
        except _matdiff.Failure as failure:
            raise _convert(failure) from None

    def numpy_source(self) -> str:
        if self._numpy_source is None:
            try:
                self._numpy_source = self.derivation.to_numpy()
            except _matdiff.Failure as failure:
                raise _convert(failure) from None
        return self._numpy_source

    def module(self) -> types.ModuleType:
        if self._module is None:
            source = self.numpy_source()
            module = types.ModuleType("matdiff_generated", "The NumPy module matdiff generated.")
            exec(compile(source, "<matdiff numpy>", "exec"), module.__dict__)
            self._module = module
        return self._module

    def explanation(self, wrt: str, kind: str, latex: bool, hadamard: str) -> str:
        if self.explained is None:
            self.explained = self._derive(True)
        for i, item in enumerate(self.explained.results()):
            if item[0] == wrt and item[1] == kind:
                return self.explained.explanation_of(i, latex=latex, hadamard=hadamard)
        raise AssertionError(f"no {kind} with respect to {wrt} in the derivation")


class ResultItem:
    """One result as the command line prints it: ``label = text``.

    Attributes:
        wrt: the variable it is taken with respect to (as the program spells it: ``α``
            also for ``wrt="alpha"``).
        kind: ``"gradient"``, ``"derivative"``, ``"jacobian"``, ``"differential"``,
            ``"vec_jacobian"``, ``"hessian"`` or ``"second_differential"`` (the kinds
            of the JSON output).
        shape: the result's shape as (rows, columns), each dimension a string such as
            ``"n"``, ``"1"`` or ``"n*n"``.
        label: the left-hand side as the text output writes it (``∂f/∂x``, ``df``, …).
        text: the expression as text followed by its ``where`` lines: what the command
            line prints after ``label = ``. ``str(item)`` is the same.
        expr_text: the expression alone, as text.
        where: the named shared sub-terms, ``(name, definition)`` in definition order.
        latex: the LaTeX fragment ``label = expression`` (with its ``where`` terms), as
            one line of ``--format latex``, without math delimiters.
    """

    wrt: str
    kind: str
    shape: Tuple[str, str]
    label: str
    text: str
    expr_text: str
    where: List[Tuple[str, str]]
    latex: str

    def __init__(self, fields: tuple):
        (
            self.wrt,
            self.kind,
            self.shape,
            self.label,
            self.text,
            self.expr_text,
            self.where,
            self.latex,
        ) = fields
        self.shape = tuple(self.shape)

    def __str__(self) -> str:
        """The text result (:attr:`text`)."""
        return self.text

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.label} = {self.text}>"

    def _repr_latex_(self) -> str:
        """The LaTeX fragment in ``$…$``, which Jupyter typesets."""
        return f"${self.latex}$"


class Result(ResultItem):
    """The results of :func:`derive` for one variable.

    Its :class:`ResultItem` attributes (``text``, ``latex``, ``kind``, ``shape``, …) are
    those of the first result the command line prints for the variable: the gradient of
    a scalar expression, the derivative with respect to a scalar, the Jacobian of a
    vector by a vector, or else the differential ``df``. The other results for the same
    variable are in :attr:`items` (a differential is followed by the Jacobian of
    ``vec f``; with ``hessian=True`` the gradient is followed by the Hessian, and for a
    matrix variable by ``d²f`` first).

    Attributes:
        items: every result for this variable, in printed order (this result first).
        hessian: with ``hessian=True``, the Hessian's :class:`ResultItem` (its ``text``,
            ``latex``, …); otherwise ``None``.
        source: the program.
    """

    items: Tuple[ResultItem, ...]
    hessian: Optional[ResultItem]
    source: str

    def __init__(self, session: _Session, items: List[ResultItem]):
        first = items[0]
        super().__init__(
            (
                first.wrt,
                first.kind,
                first.shape,
                first.label,
                first.text,
                first.expr_text,
                first.where,
                first.latex,
            )
        )
        self._session = session
        self.source = session.source
        self.items = (self,) + tuple(items[1:])
        self.hessian = next((i for i in items if i.kind == "hessian"), None)

    @property
    def numpy_source(self) -> str:
        """The NumPy module of the whole derivation, as ``--format numpy`` prints it:
        ``f``, and ``d_<X>`` / ``h_<X>`` for every variable of the call (keyword
        arguments, one per variable of the program). Raises :class:`NumpyError` when a
        result has no NumPy form."""
        return self._session.numpy_source()

    def numpy(self) -> types.ModuleType:
        """:attr:`numpy_source`, imported as a module (once per :func:`derive` call):
        ``m.f(x=…, A=…)``, ``m.d_x(x=…, A=…)``, and ``m.h_x(…)`` with
        ``hessian=True``. Needs NumPy."""
        return self._session.module()

    def explain(self, latex: bool = False, hadamard: str = "odot") -> str:
        """How this result was derived: one line per identity applied (with
        ``latex=True``, an amsmath ``align*`` block; ``hadamard`` is ``"odot"`` or
        ``"circ"``). Derivations cover gradients; other results get a line saying there
        is none.

        Unless :func:`derive` was called with ``explain=True``, this derives the program
        again once, recording explanations, and the derivation ends at that run's
        result, which may be written differently from :attr:`text` (an equal
        expression).
        """
        return self._session.explanation(self.wrt, self.kind, latex, hadamard)

    def check(self, seeds: int = 3) -> str:
        """Checks every result of the :func:`derive` call against finite differences on
        ``seeds`` random inputs; returns the check's report, or raises
        :class:`CheckError` with it when a result disagrees."""
        passed, report = self._session.derivation.check(seeds)
        report = report.rstrip("\n")
        if not passed:
            raise CheckError(report)
        return report


def derive(
    source: str,
    wrt: Union[str, Sequence[str], None] = None,
    *,
    hessian: bool = False,
    explain: bool = False,
    time_limit: Optional[float] = None,
    node_limit: Optional[int] = None,
    iter_limit: Optional[int] = None,
) -> Union[Result, List[Result]]:
    """Differentiates the matdiff program ``source`` (declarations such as ``x : R^n``,
    then the expression) with respect to ``wrt``.

    Args:
        source: the program, as the command line takes it.
        wrt: one variable name (ASCII spellings such as ``alpha`` for ``α`` are
            accepted): returns its :class:`Result`. A list of names: returns a list of
            results, one per name, in that order. ``None``: a list with one result per
            variable of the program, in declaration order.
        hessian: also the Hessian of a scalar expression; it is in
            :attr:`Result.hessian` and ``h_<X>`` of :meth:`Result.numpy`, while the
            result's own ``text``/``latex`` stay the gradient's.
        explain: record how the gradients are derived while deriving them, so that
            :meth:`Result.explain` shows the derivation of exactly these results.
        time_limit: seconds the engine may take (default 120).
        node_limit: the largest e-graph, in e-nodes (default 500000).
        iter_limit: iterations of differentiation (default: from the depth of the
            expression).

    Raises:
        MatdiffError: bad input (with ``.line`` and ``.column``), or
        EngineError: no rule applies or a limit was reached.
    """
    if isinstance(wrt, str):
        names = [wrt]
    elif wrt is None:
        names = []
    else:
        names = list(wrt)
        if not names:
            raise ValueError("wrt=[] names no variable: pass None for every variable")
        for name in names:
            if not isinstance(name, str):
                raise TypeError(f"wrt must name variables as strings, not {name!r}")
    limits = {"time_limit": time_limit, "node_limit": node_limit, "iter_limit": iter_limit}
    session = _Session(source, names, hessian, explain, limits)
    groups: dict = {}
    for fields in session.derivation.results():
        groups.setdefault(fields[0], []).append(ResultItem(fields))
    results = [Result(session, items) for items in groups.values()]
    return results[0] if isinstance(wrt, str) else results
