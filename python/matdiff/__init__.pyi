"""Type stubs of matdiff: symbolic differentiation of matrix expressions."""

import types
from typing import Any, List, Optional, Tuple, Union, overload

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

__version__: str
"""The version of matdiff (the Rust crate's)."""

class MatdiffError(ValueError):
    """Bad input, with the command line's diagnostic as the message; the base of every
    error matdiff raises."""

    message: str
    """The diagnostic (source line, caret, notes), as ``str(error)``."""
    line: Optional[int]
    """The 1-based line of the place it points at; ``None`` for an argument."""
    column: Optional[int]
    """The 1-based column (in characters) of that place; ``None`` for an argument."""
    def __init__(
        self, message: str, line: Optional[int] = ..., column: Optional[int] = ...
    ) -> None:
        """An error with its message and, for bad input, its place."""

class EngineError(MatdiffError):
    """No derivative rule applies, or an engine limit was reached first."""

class NumpyError(MatdiffError):
    """A result has no NumPy form."""

class CheckError(MatdiffError):
    """A result disagrees with finite differences (the message is the report)."""

class ResultItem:
    """One result as the command line prints it: ``label = text``."""

    wrt: str
    """The variable it is taken with respect to."""
    kind: str
    """``gradient``, ``derivative``, ``jacobian``, ``differential``, ``vec_jacobian``,
    ``hessian`` or ``second_differential``."""
    shape: Tuple[str, str]
    """(rows, columns) of the result, each a dimension such as ``"n"`` or ``"n*n"``."""
    label: str
    """The left-hand side as the text output writes it (``∂f/∂x``, ``df``, …)."""
    text: str
    """The expression and its ``where`` lines, as printed after ``label = ``."""
    expr_text: str
    """The expression alone, as text."""
    where: List[Tuple[str, str]]
    """The named shared sub-terms, (name, definition) in definition order."""
    latex: str
    """The LaTeX fragment ``label = expression``, without math delimiters."""
    def __init__(self, fields: tuple) -> None:
        """Made by :func:`derive` from the extension's result tuples."""
    def __str__(self) -> str:
        """The text result (:attr:`text`)."""
    def _repr_latex_(self) -> str:
        """The LaTeX fragment in ``$…$``, which Jupyter typesets."""

class Result(ResultItem):
    """The results of :func:`derive` for one variable; its own fields are the first
    result's (the gradient of a scalar expression)."""

    items: Tuple[ResultItem, ...]
    """Every result for this variable, in printed order (this result first)."""
    hessian: Optional[ResultItem]
    """With ``hessian=True``, the Hessian; otherwise ``None``."""
    source: str
    """The program."""
    def __init__(self, session: Any, items: List[ResultItem]) -> None:
        """Made by :func:`derive`, not by hand."""
    @property
    def numpy_source(self) -> str:
        """The NumPy module of the whole derivation (``--format numpy``)."""
    def numpy(self) -> types.ModuleType:
        """:attr:`numpy_source`, imported: ``f``, ``d_<X>``, ``h_<X>``."""
    def explain(self, latex: bool = ..., hadamard: str = ...) -> str:
        """How this result was derived, as text or LaTeX."""
    def check(self, seeds: int = ...) -> str:
        """The numeric check of every result; raises :class:`CheckError` on failure."""

@overload
def derive(
    source: str,
    wrt: str,
    *,
    hessian: bool = ...,
    explain: bool = ...,
    time_limit: Optional[float] = ...,
    node_limit: Optional[int] = ...,
    iter_limit: Optional[int] = ...,
) -> Result:
    """Differentiates ``source`` with respect to one variable."""

@overload
def derive(
    source: str,
    wrt: Union[List[str], Tuple[str, ...], None] = ...,
    *,
    hessian: bool = ...,
    explain: bool = ...,
    time_limit: Optional[float] = ...,
    node_limit: Optional[int] = ...,
    iter_limit: Optional[int] = ...,
) -> List[Result]:
    """Differentiates ``source`` with respect to each variable named (``None``: every
    variable), one result per variable."""
