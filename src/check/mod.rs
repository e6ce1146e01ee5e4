//! The front end in one call: source text → parsed, checked and lowered program.
//!
//! ```
//! use matdiff::{check_program, lang::dims::Kind};
//!
//! let checked = check_program("x : R^n; A : R^(n×n); xᵀ A x").unwrap();
//! assert_eq!(checked.kind, Kind::Scalar);
//! assert_eq!(checked.variables[0].name, "x");
//! assert_eq!(checked.variables[1].shape.to_string(), "n×n");
//!
//! let err = check_program("W1 : R^(m×n); x : R^p; W1 x").unwrap_err();
//! assert_eq!(err.message, "W1 x: cannot multiply W1 (m×n) by x (p×1)");
//! ```

use crate::check::shape::{Function, Variable};
use crate::lang::dims::{Kind, Shape};
use crate::lang::Math;
use crate::syntax::diagnostic::Diagnostic;
use crate::syntax::parse;

pub mod lower;
pub mod shape;
use egg::{RecExpr, Symbol};

/// A program that parsed and whose shapes are consistent.
#[derive(Debug, Clone)]
pub struct Checked {
    /// The program's expression, bindings inlined (shared sub-terms are one node).
    pub expr: RecExpr<Math>,
    /// The expression's shape and kind.
    pub shape: Shape,
    /// Whether it is a scalar, a vector or a matrix (a declared matrix stays one when 1×1).
    pub kind: Kind,
    /// Every declared or used variable, in declaration / first-use order (declared but
    /// unused ones too).
    pub variables: Vec<Variable>,
    /// The generic functions declared or used, in declaration / first-use order.
    pub functions: Vec<Function>,
    /// Each binding's name and lowered expression, in source order.
    pub bindings: Vec<(String, RecExpr<Math>)>,
    /// The same bindings hash-consed, for the printers' naming of sub-terms.
    pub binding_terms: crate::lang::BindingTerms,
    /// Every symbolic dimension name in the final shapes.
    pub dims: Vec<Symbol>,
    /// Where the expression (the last statement) is in the source.
    pub expr_span: crate::syntax::ast::Span,
}

impl Checked {
    /// The variable called `name`.
    pub fn variable(&self, name: &str) -> Option<&Variable> {
        self.variables.iter().find(|v| v.name == name)
    }
}

/// The stack of the thread that parses and checks: the stages recurse once per level of
/// the expression tree (at most [`parse::MAX_DEPTH`]), which in a debug build needs far
/// more than the 2 MiB of a test thread. Only the pages used are committed.
const FRONT_STACK: usize = 256 << 20;

/// Parses, checks and lowers a program (LANGUAGE.md §1). Input errors are diagnostics
/// with a place in `source`; see [`Diagnostic::render`].
///
/// The work runs on a scoped thread with a large stack, so that the deepest programs the
/// parser accepts never exhaust the caller's stack (if that thread cannot be created, it
/// runs on the caller's thread).
pub fn check_program(source: &str) -> Result<Checked, Diagnostic> {
    std::thread::scope(|scope| {
        let spawned = std::thread::Builder::new()
            .name("matdiff-front".into())
            .stack_size(FRONT_STACK)
            .spawn_scoped(scope, || check_here(source));
        match spawned {
            Ok(handle) => match handle.join() {
                Ok(result) => result,
                Err(panic) => std::panic::resume_unwind(panic),
            },
            Err(_) => check_here(source),
        }
    })
}

fn check_here(source: &str) -> Result<Checked, Diagnostic> {
    let program = parse::parse_program(source)?;
    let analysis = shape::analyze(&program, source)?;
    let lowered = lower::lower(&program, &analysis)?;
    let expr_span = program
        .statements
        .iter()
        .rev()
        .find_map(|s| match s {
            crate::syntax::ast::Statement::Expr(e) => Some(e.span),
            _ => None,
        })
        .unwrap_or(program.span);
    Ok(Checked {
        expr_span,
        expr: lowered.expr,
        shape: analysis.shape,
        kind: analysis.kind,
        variables: analysis.variables,
        functions: analysis.functions,
        binding_terms: crate::lang::BindingTerms::new(&lowered.bindings),
        bindings: lowered.bindings,
        dims: analysis.dims,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::syntax::parse::{MAX_DEPTH, MAX_NESTING};

    fn is_debug_and_clone<T: std::fmt::Debug + Clone>(_: &T) {}

    #[test]
    fn checked_carries_everything() {
        let src =
            "x : R^n; W1 : R^(m×n); w : R^m; σ : elementwise\nh = σ(W1 x)\nL(h ∘ w) + 0.5 xᵀ x";
        let c = check_program(src).unwrap_or_else(|d| panic!("{}", d.render(src)));
        is_debug_and_clone(&c);
        assert_eq!(
            c.expr.to_string(),
            "(+ (apply @L (∘ (ew @σ (* W1 x)) w)) (* (* 0.5 (T x)) x))"
        );
        assert_eq!((c.shape.clone(), c.kind), (Shape::scalar(), Kind::Scalar));
        let names: Vec<&str> = c.variables.iter().map(|v| v.name.as_str()).collect();
        assert_eq!(names, ["x", "W1", "w"]);
        let funcs: Vec<(&str, crate::FunctionKind)> = c
            .functions
            .iter()
            .map(|f| (f.name.as_str(), f.kind))
            .collect();
        assert_eq!(
            funcs,
            [
                ("σ", crate::FunctionKind::Elementwise),
                ("L", crate::FunctionKind::ScalarValued)
            ]
        );
        assert_eq!(c.bindings.len(), 1);
        assert_eq!(c.bindings[0].1.to_string(), "(ew @σ (* W1 x))");
        assert_eq!(c.dims, [Symbol::from("n"), Symbol::from("m")]);
        assert_eq!(c.variable("w").map(|v| v.kind), Some(Kind::Vector));
        assert!(c.variable("h").is_none());
    }

    #[test]
    fn errors_come_from_every_stage() {
        // Syntax, names and shapes.
        assert!(check_program("x +").is_err());
        assert!(check_program("x + x(y)").is_err());
        let d = check_program("x : R^n; y : R^m; x + y").err();
        assert_eq!(
            d.map(|d| d.message),
            Some("x + y: cannot add x (n×1) and y (m×1)".to_string())
        );
    }

    #[test]
    fn commutation_and_hessian_calls() {
        let src = "X : R^(m×n); u : R^n\nK = commutation(X)\nK vec(X) + vec(Xᵀ) + vec(X ∇²L(u))";
        let c = check_program(src).unwrap_or_else(|d| panic!("{}", d.render(src)));
        assert_eq!(
            c.expr.to_string(),
            "(+ (+ (* (commutation X) (vec X)) (vec (T X))) (vec (* X (hess @L u))))"
        );
        assert_eq!(
            (c.shape.to_string(), c.kind),
            ("m·n×1".to_string(), Kind::Vector)
        );
        assert_eq!(c.bindings[0].1.to_string(), "(commutation X)");
        assert_eq!(c.functions.len(), 1);
        // The error points at the argument that is not a column.
        let src = "X : R^(m×n); ∇²L(X)";
        let d = check_program(src).err();
        let at = src.rfind('X').unwrap_or_default();
        assert_eq!(
            d.map(|d| d.span),
            Some(crate::syntax::ast::Span::new(at, at + 1))
        );
    }

    /// The deepest accepted programs go through every stage without exhausting the stack
    /// of a test thread.
    #[test]
    fn the_deepest_accepted_programs_are_checked_and_lowered() {
        let n = MAX_NESTING - 1;
        let calls = "σ(".repeat(n) + "x" + &")".repeat(n);
        let c = check_program(&calls).unwrap_or_else(|d| panic!("{}", d.message));
        assert_eq!(c.expr.as_ref().len(), n + 2);

        let mlp = (1..=n / 2).fold("x".to_string(), |acc, i| format!("σ(W{i} {acc})"));
        let c = check_program(&format!("L({mlp})")).unwrap_or_else(|d| panic!("{}", d.message));
        assert_eq!(c.variables.len(), n / 2 + 1);

        let chain = vec!["x"; MAX_DEPTH - 1].join(" + ");
        let c = check_program(&chain).unwrap_or_else(|d| panic!("{}", d.message));
        assert_eq!(c.kind, Kind::Vector);
        // A long sum is lowered as a balanced tree, whose equal halves are one node.
        assert!(c.expr.as_ref().len() < 64, "{}", c.expr.as_ref().len());
        assert!(crate::engine::depth(&c.expr) <= 13);

        // Only real nesting counts toward MAX_DEPTH: a flat sum of 5000 terms is fine.
        let flat = format!("x : R^n; {}", vec!["sum(x)"; 5000].join(" + "));
        let c = check_program(&flat).unwrap_or_else(|d| panic!("{}", d.message));
        assert_eq!(c.kind, Kind::Scalar);

        let postfix = "A".to_string() + &"ᵀ".repeat(MAX_DEPTH - 2);
        assert!(check_program(&postfix).is_ok());
    }

    #[test]
    fn bindings_keep_deep_programs_shallow() {
        // A 1000-layer network written with bindings: each statement is shallow.
        let mut src = String::from("x : R^n\nh0 = x\n");
        for i in 1..=1000 {
            src.push_str(&format!("h{i} = σ(W{i} h{})\n", i - 1));
        }
        src.push_str("L(h1000)");
        let c = check_program(&src).unwrap_or_else(|d| panic!("{}", d.message));
        assert_eq!(c.bindings.len(), 1001);
        assert_eq!(c.variables.len(), 1001);
        assert_eq!(
            c.variable("W1000").map(|v| v.shape.to_string()),
            Some("n1000×n999".into())
        );
    }

    /// Random token soup never panics; every error points inside the source.
    #[test]
    fn random_input_gives_results_or_diagnostics() {
        const TOKENS: &[&str] = &[
            "x",
            "y",
            "A",
            "W1",
            "α",
            "σ",
            "L",
            "I",
            "ones",
            "2",
            "0.5",
            "1e-3",
            "(",
            ")",
            "{",
            "}",
            ",",
            ";",
            "\n",
            ":",
            "=",
            "+",
            "-",
            "*",
            "/",
            "·",
            "∘",
            "⊘",
            "⊗",
            ".*",
            "./",
            "'",
            "ᵀ",
            "ᴴ",
            "⁻¹",
            "²",
            "^",
            "^T",
            "^-1",
            ".^",
            "∇",
            " ",
            " ",
            "R^n",
            "R^(n×n)",
            "C^m",
            "scalar",
            "elementwise",
            "tr(",
            "exp(",
            "outer(",
            "diag(",
            "σ'(",
            "∇L(",
            "∇²L(",
            "commutation(",
            "#",
        ];
        let mut seed: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        let (mut accepted, mut rejected) = (0, 0);
        for _ in 0..3000 {
            let len = 1 + (next() % 12) as usize;
            let src: String = (0..len)
                .map(|_| TOKENS[(next() % TOKENS.len() as u64) as usize])
                .collect();
            match check_program(&src) {
                Ok(c) => {
                    accepted += 1;
                    assert!(c.expr.is_dag(), "{src:?}");
                }
                Err(d) => {
                    rejected += 1;
                    assert!(d.span.end <= src.len(), "{src:?}: {d:?}");
                    assert!(src.is_char_boundary(d.span.start), "{src:?}: {d:?}");
                    assert!(d.render(&src).starts_with("error: "));
                }
            }
        }
        assert!(
            accepted > 50 && rejected > 50,
            "{accepted} accepted, {rejected} rejected"
        );
    }
}
