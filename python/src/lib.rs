//! The `matdiff._matdiff` extension module: a thin layer over [`matdiff::api`]. The
//! Python API (`matdiff.derive`, `Result`, the exceptions) is written in Python, in
//! `python/matdiff/__init__.py`; this module only moves strings and numbers across.

use matdiff::api::{self, Error, Options};
use matdiff::engine::Limits;
use matdiff::render::json::{dim_string, result_kind_name};
use matdiff::render::latex::{HadamardSymbol, LatexOptions};
use pyo3::create_exception;
use pyo3::exceptions::{PyException, PyValueError};
use pyo3::prelude::*;
use std::time::Duration;

create_exception!(
    _matdiff,
    Failure,
    PyException,
    "A failure of matdiff::api, as (kind, message, line, column): kind is `input`, \
     `engine` or `numpy`; matdiff turns it into MatdiffError or one of its subclasses."
);

/// An [`Error`] as a [`Failure`].
fn failure(e: Error) -> PyErr {
    let kind = match &e {
        Error::Input { .. } => "input",
        Error::Engine(_) => "engine",
        Error::Numpy(_) => "numpy",
    };
    let (line, column) = match &e {
        Error::Input { line, column, .. } => (*line, *column),
        _ => (0, 0),
    };
    Failure::new_err((kind, e.to_string(), line, column))
}

/// LaTeX options from the Python keywords.
fn latex_options(document: bool, hadamard: &str) -> PyResult<LatexOptions> {
    let hadamard = match hadamard {
        "odot" => HadamardSymbol::Odot,
        "circ" => HadamardSymbol::Circ,
        other => {
            return Err(PyValueError::new_err(format!(
                "hadamard must be \"odot\" or \"circ\", not {other:?}"
            )))
        }
    };
    Ok(LatexOptions { hadamard, document })
}

/// A differentiated program ([`api::Derivation`]). Not shared between threads: it
/// holds e-graph data that is not thread-safe.
#[pyclass(unsendable, module = "matdiff._matdiff")]
struct Derivation {
    inner: api::Derivation,
}

/// One result as a tuple: (wrt, kind, (rows, cols), label, text, expr_text, where,
/// latex), `where` a list of (name, definition) pairs.
type ResultTuple = (
    String,
    &'static str,
    (String, String),
    String,
    String,
    String,
    Vec<(String, String)>,
    String,
);

#[pymethods]
impl Derivation {
    /// Every result, in the order the command line prints them.
    fn results(&self) -> Vec<ResultTuple> {
        self.inner
            .results()
            .into_iter()
            .map(|r| {
                (
                    r.wrt,
                    result_kind_name(r.kind),
                    (dim_string(&r.shape.rows), dim_string(&r.shape.cols)),
                    r.label,
                    r.text,
                    r.expr_text,
                    r.where_,
                    r.latex,
                )
            })
            .collect()
    }

    /// The text output (`--format text`).
    fn to_text(&self) -> String {
        self.inner.to_text()
    }

    /// The LaTeX output (`--format latex`, or `--latex-document`).
    #[pyo3(signature = (document=false, hadamard="odot"))]
    fn to_latex(&self, document: bool, hadamard: &str) -> PyResult<String> {
        Ok(self.inner.to_latex(&latex_options(document, hadamard)?))
    }

    /// The JSON output (`--format json`).
    #[pyo3(signature = (hadamard="odot"))]
    fn to_json(&self, hadamard: &str) -> PyResult<String> {
        Ok(self.inner.to_json(&latex_options(false, hadamard)?))
    }

    /// The NumPy module (`--format numpy`); a `Failure` when a result has no NumPy form.
    fn to_numpy(&self) -> PyResult<String> {
        self.inner.to_numpy().map_err(failure)
    }

    /// How result `index` was derived, as text or LaTeX (`None`: no such result).
    #[pyo3(signature = (index, latex=false, hadamard="odot"))]
    fn explanation_of(
        &self,
        index: usize,
        latex: bool,
        hadamard: &str,
    ) -> PyResult<Option<String>> {
        let options = latex_options(false, hadamard)?;
        Ok(self.inner.explanation_of(index, latex.then_some(&options)))
    }

    /// The numeric check of every result on `seeds` random inputs: (passed, report).
    fn check(&self, seeds: u64) -> (bool, String) {
        self.inner.check(seeds)
    }

    /// The engine's report, one line per stage.
    fn engine_report(&self) -> String {
        self.inner.engine_report()
    }
}

/// Parses, checks and differentiates `source` ([`api::derive`]); an empty `wrt` means
/// every variable; limits left `None` keep the command line's defaults.
#[pyfunction]
#[pyo3(signature = (source, wrt, hessian=false, explain=false, time_limit=None, node_limit=None, iter_limit=None))]
fn derive(
    source: &str,
    wrt: Vec<String>,
    hessian: bool,
    explain: bool,
    time_limit: Option<f64>,
    node_limit: Option<usize>,
    iter_limit: Option<usize>,
) -> PyResult<Derivation> {
    let mut limits = Limits::default();
    if let Some(t) = time_limit {
        limits.time_limit = Duration::try_from_secs_f64(t).map_err(|_| {
            PyValueError::new_err(format!(
                "time_limit must be a number of seconds ≥ 0, not {t}"
            ))
        })?;
    }
    if let Some(n) = node_limit {
        limits.node_limit = n;
    }
    limits.iter_limit = iter_limit.or(limits.iter_limit);
    let options = Options {
        wrt,
        hessian,
        explain,
        limits,
        ..Options::default()
    };
    api::derive(source, &options)
        .map(|inner| Derivation { inner })
        .map_err(failure)
}

/// The `matdiff._matdiff` module.
#[pymodule]
fn _matdiff(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("Failure", m.py().get_type::<Failure>())?;
    m.add_class::<Derivation>()?;
    m.add_function(wrap_pyfunction!(derive, m)?)?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
