//! Names and shapes: declarations, bindings, the conventions for undeclared names, and
//! shape inference by unification.
//!
//! Dimensions are products of three kinds of factors: rigid names from declarations
//! (`n ≠ m`), integers, and flexible unknowns (union-find variables) created for
//! undeclared names, `vector`/`matrix` declarations, `I` and `ones`. Every operator
//! unifies what it needs (`cols(a) = rows(b)` for `a b`), and the first inconsistency is
//! a [`Diagnostic`] naming both operands, their shapes (unified dimensions shown by name)
//! and the operator's place. Unknowns still free at the end get fresh names `n1`, `n2`, …
//!
//! A flexible length of a vector (an undeclared lower-case name or a `vector`) is never
//! unified with 1: `x y` with two undeclared vectors is an error, not a product with a
//! 1-vector. A flexible matrix dimension may be 1 (`σ(W1 x) ∘ W2` makes `W2` an m×1
//! matrix).

use crate::lang::builtins;
use crate::lang::dims::{Dim, Kind, Shape};
use crate::syntax::ast::*;
use crate::syntax::diagnostic::Diagnostic;
use egg::Symbol;
use std::collections::{HashMap, HashSet};

mod calls;
mod declarations;
mod kinds;
mod unify;

use kinds::*;
use unify::*;

/// A variable of the program: declared, or used under the naming convention.
#[derive(Debug, Clone, PartialEq)]
pub struct Variable {
    /// The name as written (`W_1`, `α`).
    pub name: String,
    /// Its shape, with symbolic dimensions unified across the program.
    pub shape: Shape,
    /// Declared or by convention; a matrix stays a matrix even when a dimension is 1.
    pub kind: Kind,
    /// Declared with `C`.
    pub complex: bool,
    /// The declaration's name, or the first use.
    pub span: Span,
}

/// The two kinds of generic functions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FunctionKind {
    /// `σ : elementwise`, or an undeclared lower-case or Greek name called as `σ(u)`:
    /// applied entry by entry, differentiated as `σ'`.
    Elementwise,
    /// `L : scalar-valued`, or an undeclared upper-case name called as `L(u)`: any shape
    /// to a scalar, differentiated as `∇L`.
    ScalarValued,
}

/// A generic function, declared or used.
#[derive(Debug, Clone, PartialEq)]
pub struct Function {
    /// The name as written (`σ`, `L`).
    pub name: String,
    /// Element-wise or scalar-valued.
    pub kind: FunctionKind,
    /// The declaration's name, or the first use.
    pub span: Span,
}

pub use crate::lang::builtins::Builtin;

/// Common spellings of built-ins from other tools that are not near them in spelling.
const ALIASES: &[(&str, &str)] = &[
    ("ln", "log"),
    ("logistic", "sigmoid"),
    ("transpose", "ᵀ"),
    ("avg", "mean"),
    ("average", "mean"),
    ("variance", "var"),
    ("stddev", "std"),
];

/// Names users expect to be built in that are not, with what to write instead: an
/// undeclared call of one is refused (it would be read as a generic element-wise
/// function, not as the reduction over the entries it usually means).
const NOT_BUILT_IN: &[(&str, &str)] = &[
    (
        "max",
        "the maximum of the entries has no derivative where entries tie; `logsumexp(x)` is \
         its smooth form, and `relu(a - b) + b` the maximum of two values entry by entry",
    ),
    (
        "min",
        "the minimum of the entries has no derivative where entries tie; `-logsumexp(-x)` \
         is its smooth form",
    ),
    (
        "argmax",
        "`argmax` is piecewise constant: its derivative is zero where it exists",
    ),
    (
        "argmin",
        "`argmin` is piecewise constant: its derivative is zero where it exists",
    ),
    (
        "prod",
        "the product of the entries is `exp(sum(log(x)))` for positive entries",
    ),
];

/// The Levenshtein distance between two names, in characters.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cur = row[j + 1];
            row[j + 1] = (prev + usize::from(ca != *cb)).min(row[j] + 1).min(cur + 1);
            prev = cur;
        }
    }
    row[b.len()]
}

/// The built-in an undeclared function name is probably a misspelling of: within one
/// edit (two for names of five or more letters; a changed case is an edit), or a known
/// alias (`ln`).
/// Names shorter than three letters (`L`, `f`, `σ`) are never taken for misspellings.
pub fn near_builtin(name: &str) -> Option<&'static str> {
    if let Some((_, b)) = ALIASES.iter().find(|(a, _)| *a == name) {
        return Some(b);
    }
    if name.chars().count() < 3 {
        return None;
    }
    let len = name.chars().count();
    builtins::all_names()
        .map(|b| (edit_distance(name, b), b))
        .filter(|(d, b)| *d <= if b.len().min(len) >= 5 { 2 } else { 1 })
        .min()
        .map(|(_, b)| b)
}

/// What a name or a call refers to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resolution {
    /// An index into [`Analysis::variables`].
    Variable(usize),
    /// An index into [`Analysis::bindings`].
    Binding(usize),
    /// `I`, undeclared.
    Identity,
    /// `ones`, undeclared.
    Ones,
    /// An undeclared name that is a dimension of a declaration (`n` of `x : R^n`): its
    /// size, a positive integer scalar.
    Dimension(Symbol),
    /// A built-in function.
    Builtin(Builtin),
    /// An index into [`Analysis::functions`].
    Generic(usize),
}

/// A binding after checking.
#[derive(Debug, Clone, PartialEq)]
pub struct BoundName {
    /// The bound name as written.
    pub name: String,
    /// Where the name is written in its binding.
    pub span: Span,
    /// The shape of the bound expression.
    pub shape: Shape,
    /// The kind of the bound expression (scalar, vector or matrix).
    pub kind: Kind,
    /// The index of its statement in [`Program::statements`].
    pub statement: usize,
}

/// Everything the checker found, beside the tree: per-node shapes and resolutions.
#[derive(Debug, Clone)]
pub struct Analysis {
    /// In declaration / first-use order.
    pub variables: Vec<Variable>,
    /// In declaration / first-use order.
    pub functions: Vec<Function>,
    /// In source order.
    pub bindings: Vec<BoundName>,
    /// The final shape of every expression node, by [`Expr::id`].
    pub shapes: Vec<Option<Shape>>,
    /// What every name and call node refers to, by [`Expr::id`].
    pub resolutions: Vec<Option<Resolution>>,
    /// Every symbolic dimension in the final shapes.
    pub dims: Vec<Symbol>,
    /// The index of the expression statement (the last one).
    pub expr: usize,
    /// The expression's shape and kind.
    pub shape: Shape,
    /// The expression's kind (scalar, vector or matrix).
    pub kind: Kind,
}

type Result<T> = std::result::Result<T, Diagnostic>;

/// Checks names and shapes of a parsed program.
pub fn analyze(program: &Program, source: &str) -> Result<Analysis> {
    let expr_index = check_structure(program, source)?;
    let mut c = Checker::new(program, source);
    for st in &program.statements {
        if let Statement::Declaration(d) = st {
            c.declare(d)?;
        }
    }
    for (i, st) in program.statements.iter().enumerate() {
        match st {
            Statement::Declaration(_) => {}
            Statement::Binding(b) => c.bind(b, i)?,
            Statement::Expr(e) => {
                c.check(e)?;
            }
        }
    }
    c.finish(program, expr_index)
}

/// Exactly one expression, and it comes last.
fn check_structure(program: &Program, source: &str) -> Result<usize> {
    let n = program.statements.len();
    let exprs: Vec<usize> = (0..n)
        .filter(|&i| matches!(program.statements[i], Statement::Expr(_)))
        .collect();
    if let Some(&first) = exprs.iter().find(|&&i| i + 1 != n) {
        let st = &program.statements[first];
        let mut d = Diagnostic::new("only the last statement can be the expression", st.span());
        if let Some(last) = program.statements.last() {
            if exprs.contains(&(n - 1)) {
                d = d
                    .with_label("this expression is not the last statement")
                    .with_secondary(last.span(), "the expression to differentiate");
            } else {
                d = d.with_label("this expression is followed by other statements");
            }
        }
        return Err(d.with_note(
            "name a sub-expression with a binding (`h = …`); the last statement is the \
             expression to differentiate",
        ));
    }
    match exprs.last() {
        Some(&i) => Ok(i),
        None => {
            let end = source.trim_end().len();
            let mut d = Diagnostic::new("the program has no expression", Span::at(end))
                .with_label("the expression to differentiate should come here");
            if let Some(Statement::Binding(b)) = program.statements.last() {
                d = d.with_note(format!(
                    "the last statement is a binding; add a line `{}` to differentiate it",
                    b.name.name
                ));
            } else {
                d = d.with_note("the last statement must be an expression, such as `xᵀ A x`");
            }
            Err(d)
        }
    }
}

// ---------------------------------------------------------------------------------------
// The checker

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Entry {
    Var(usize),
    Func(usize),
    Bind(usize),
}

#[derive(Debug, Clone)]
struct VarInfo {
    name: String,
    shape: ShapeT,
    kind: Kind,
    complex: bool,
    span: Span,
}

#[derive(Debug, Clone)]
struct BindInfo {
    name: String,
    span: Span,
    shape: ShapeT,
    statement: usize,
}

/// A constraint that could not be decided when it was met.
#[derive(Debug, Clone)]
struct Pending {
    a: Mono,
    b: Mono,
    span: Span,
    what: String,
}

/// Every `I` and `ones`, whose size must be fixed by the end.
#[derive(Debug, Clone)]
struct Fill {
    name: &'static str,
    span: Span,
    shape: ShapeT,
}

struct Checker<'a> {
    source: &'a str,
    u: Unifier,
    names: HashMap<String, Entry>,
    vars: Vec<VarInfo>,
    funcs: Vec<Function>,
    binds: Vec<BindInfo>,
    shapes: Vec<Option<ShapeT>>,
    res: Vec<Option<Resolution>>,
    fills: Vec<Fill>,
    pending: Vec<Pending>,
    /// Names that fresh dimension names avoid: every identifier of the program.
    reserved: HashSet<String>,
    /// The dimension names of the declarations so far (`n` of `x : R^n`).
    dim_names: HashSet<String>,
    /// Names given to flexible roots, for messages and for the final shapes.
    flex_names: HashMap<usize, Symbol>,
    next_fresh: usize,
}

/// How an operand is shown in a message: its source text with runs of whitespace made
/// one space, shortened to about 32 characters (reading no further than that).
fn snippet(source: &str, span: Span) -> String {
    const MAX: usize = 32;
    let mut out: Vec<char> = vec![];
    let mut space = false;
    for c in span.text(source).chars() {
        if c.is_whitespace() {
            space = !out.is_empty();
            continue;
        }
        if space {
            out.push(' ');
            space = false;
        }
        out.push(c);
        if out.len() > MAX {
            let head: String = out[..MAX - 2].iter().collect();
            return format!("{head}…");
        }
    }
    out.into_iter().collect()
}

fn dim_of_spec(spec: &DimSpec) -> Mono {
    match &spec.value {
        DimValue::Named(n) => Mono::rigid(n),
        DimValue::Number(k) => Mono::lit(*k),
    }
}

fn sorted_by_span<T>(items: &[T], span: impl Fn(&T) -> Span) -> Vec<usize> {
    let mut order: Vec<usize> = (0..items.len()).collect();
    order.sort_by_key(|&i| span(&items[i]).start);
    order
}

/// Every identifier in the program: fresh dimension names avoid them.
fn collect_identifiers(program: &Program, out: &mut HashSet<String>) {
    for st in &program.statements {
        match st {
            Statement::Declaration(d) => {
                out.extend(d.names.iter().map(|n| n.name.clone()));
                let specs: Vec<&DimSpec> = match &d.ty.kind {
                    TypeKind::Vector { len: Some(l), .. } => vec![l],
                    TypeKind::Matrix {
                        dims: Some((r, c)), ..
                    } => vec![r, c],
                    _ => vec![],
                };
                for s in specs {
                    if let DimValue::Named(n) = &s.value {
                        out.insert(n.clone());
                    }
                }
            }
            Statement::Binding(b) => {
                out.insert(b.name.name.clone());
                expr_identifiers(&b.value, out);
            }
            Statement::Expr(e) => expr_identifiers(e, out),
        }
    }
}

fn expr_identifiers(e: &Expr, out: &mut HashSet<String>) {
    match &e.kind {
        ExprKind::Number(_) | ExprKind::ImaginaryUnit => {}
        ExprKind::Name(n) => {
            out.insert(n.clone());
        }
        ExprKind::Call { callee, args }
        | ExprKind::Derivative { callee, args, .. }
        | ExprKind::Gradient { callee, args }
        | ExprKind::Hessian { callee, args } => {
            out.insert(callee.name.clone());
            for a in args {
                expr_identifiers(a, out);
            }
        }
        ExprKind::Neg { operand, .. } => expr_identifiers(operand, out),
        ExprKind::Postfix { op, operand, .. } => {
            expr_identifiers(operand, out);
            if let PostfixOp::Power(k) | PostfixOp::ElementwisePower(k) = op {
                expr_identifiers(k, out);
            }
        }
        ExprKind::Binary { lhs, rhs, .. } => {
            expr_identifiers(lhs, out);
            expr_identifiers(rhs, out);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::{check_program, Checked};

    fn ok(input: &str) -> Checked {
        check_program(input).unwrap_or_else(|d| panic!("{}", d.render(input)))
    }

    fn err(input: &str) -> Diagnostic {
        match check_program(input) {
            Ok(c) => panic!("{input} was accepted: {}", c.expr),
            Err(d) => d,
        }
    }

    /// `name shape kind` for every variable.
    fn vars(c: &Checked) -> Vec<String> {
        c.variables
            .iter()
            .map(|v| format!("{} {} {:?}", v.name, v.shape, v.kind))
            .collect()
    }

    fn funcs(c: &Checked) -> Vec<String> {
        c.functions
            .iter()
            .map(|f| format!("{} {:?}", f.name, f.kind))
            .collect()
    }

    fn dims(c: &Checked) -> Vec<&str> {
        c.dims.iter().map(|d| d.as_str()).collect()
    }

    /// The shape and kind of the expression: `n×1 Vector`.
    fn typed(input: &str) -> String {
        let c = ok(input);
        format!("{} {:?}", c.shape, c.kind)
    }

    /// The message and the caret line of an error.
    fn error_at(input: &str) -> (String, String) {
        let d = err(input);
        let r = d.render(input);
        let caret = r
            .lines()
            .find(|l| l.trim_start().starts_with("| ") && l.contains('^'))
            .unwrap_or_default()
            .to_string();
        (d.message, caret)
    }

    #[test]
    fn design_example_needs_no_declarations() {
        let c = ok("L(σ(W1 x) ∘ W2)");
        assert_eq!(
            vars(&c),
            ["W1 n1×n2 Matrix", "x n2×1 Vector", "W2 n1×1 Matrix"]
        );
        assert_eq!(funcs(&c), ["L ScalarValued", "σ Elementwise"]);
        assert_eq!(dims(&c), ["n1", "n2"]);
        assert_eq!(
            (c.shape.to_string(), c.kind),
            ("1×1".to_string(), Kind::Scalar)
        );
        // The inner expression is a matrix because W2 is one, although it has one column.
        assert_eq!(typed("σ(W1 x) ∘ W2"), "n1×1 Matrix");
        assert_eq!(typed("σ(W1 x)"), "n1×1 Vector");
    }

    #[test]
    fn language_example_with_declarations() {
        let src = "# comments run to the end of the line
x : R^n                 # declarations: name : type
W1 : R^(m×n)
W2 : R^m
σ : elementwise         # a generic element-wise function (σ' in results)
L : scalar-valued       # a generic scalar-valued function (∇L in results)
h = σ(W1 x)             # a binding: a named sub-expression
L(h ∘ W2)               # the last statement is the expression
";
        let c = ok(src);
        assert_eq!(vars(&c), ["x n×1 Vector", "W1 m×n Matrix", "W2 m×1 Vector"]);
        assert_eq!(funcs(&c), ["σ Elementwise", "L ScalarValued"]);
        assert_eq!(dims(&c), ["n", "m"]);
        assert_eq!(c.bindings.len(), 1);
        assert_eq!(c.bindings[0].0, "h");
        assert_eq!(c.bindings[0].1.to_string(), "(ew @σ (* W1 x))");
        assert_eq!(c.expr.to_string(), "(apply @L (∘ (ew @σ (* W1 x)) W2))");
        let x = c.variable("x").map(|v| (v.span, v.complex));
        assert_eq!(x, Some((Span::new(38, 39), false)));
        let one_line = ok("x : R^n; A : R^(n×n); xᵀ A x");
        assert_eq!(one_line.kind, Kind::Scalar);
    }

    #[test]
    fn naming_conventions() {
        let c = ok("α A x + β b");
        assert_eq!(
            vars(&c),
            [
                "α 1×1 Scalar",
                "A n1×n2 Matrix",
                "x n2×1 Vector",
                "β 1×1 Scalar",
                "b n1×1 Vector"
            ]
        );
        // Declared but unused variables and functions are listed, in declaration order.
        let c = ok("y : R^m; g : elementwise; x : R^n; F : scalar-valued; xᵀ x");
        assert_eq!(vars(&c), ["y m×1 Vector", "x n×1 Vector"]);
        assert_eq!(funcs(&c), ["g Elementwise", "F ScalarValued"]);
        assert_eq!(dims(&c), ["m", "n"]);
        // Called names: upper-case initial → scalar-valued, otherwise element-wise.
        let c = ok("E(φ(x)) + R(g(x))");
        assert_eq!(
            funcs(&c),
            [
                "E ScalarValued",
                "φ Elementwise",
                "R ScalarValued",
                "g Elementwise"
            ]
        );
        // Greek upper case is a scalar as a variable and scalar-valued as a function.
        let c = ok("Σ Φ(x)");
        assert_eq!(vars(&c), ["Σ 1×1 Scalar", "x n1×1 Vector"]);
        assert_eq!(funcs(&c), ["Φ ScalarValued"]);
        // `∇g` and `F'` decide the kind of an undeclared function at first use.
        assert_eq!(funcs(&ok("∇g(x) + x")), ["g ScalarValued"]);
        assert_eq!(funcs(&ok("∇²g(x) x")), ["g ScalarValued"]);
        assert_eq!(funcs(&ok("F'(x) ∘ F(x)")), ["F Elementwise"]);
        // Built-ins are not generic functions.
        assert!(ok("exp(x) + tanh'(x)").functions.is_empty());
    }

    #[test]
    fn declared_types() {
        let c = ok(
            "a : scalar; b : R; c : vector; d : R^3; E : matrix; F : R^(2×n); z : C^n; w : C\nb",
        );
        assert_eq!(
            vars(&c),
            [
                "a 1×1 Scalar",
                "b 1×1 Scalar",
                "c n1×1 Vector",
                "d 3×1 Vector",
                "E n2×n3 Matrix",
                "F 2×n Matrix",
                "z n×1 Vector",
                "w 1×1 Scalar"
            ]
        );
        let complex: Vec<bool> = c.variables.iter().map(|v| v.complex).collect();
        assert_eq!(
            complex,
            [false, false, false, false, false, false, true, true]
        );
        assert_eq!(dims(&c), ["n1", "n2", "n3", "n"]);
        // A declared matrix keeps its kind with a dimension of 1, a declared vector of 1 too.
        assert_eq!(typed("W : R^(n×1); W"), "n×1 Matrix");
        assert_eq!(typed("v : R^1; v"), "1×1 Vector");
        assert_eq!(typed("A : R^(1×1); A"), "1×1 Matrix");
        // `A, B : …` share rigid sizes but not flexible ones.
        let c = ok("A, B : R^(n×n); C, D : matrix; A B + C D");
        assert_eq!(
            vars(&c),
            [
                "A n×n Matrix",
                "B n×n Matrix",
                "C n×n1 Matrix",
                "D n1×n Matrix"
            ]
        );
    }

    #[test]
    fn kinds_follow_what_users_expect() {
        for (input, expect) in [
            ("A x", "n1×1 Vector"),
            ("x + y", "n1×1 Vector"),
            ("x ∘ y", "n1×1 Vector"),
            ("σ(x)", "n1×1 Vector"),
            ("α x", "n1×1 Vector"),
            ("x α", "n1×1 Vector"),
            ("xᵀ y x", "n1×1 Vector"),
            ("2 x + 1", "n1×1 Vector"),
            ("xᵀ", "1×n1 Matrix"),
            ("xᵀ A", "1×n2 Matrix"),
            ("(xᵀ A)ᵀ", "n2×1 Vector"),
            ("x xᵀ", "n1×n1 Matrix"),
            ("xᵀ x", "1×1 Scalar"),
            ("xᵀ A x", "1×1 Scalar"),
            ("x + W", "n1×1 Matrix"),
            ("vec(X)", "n1·n2×1 Vector"),
            ("diag(x)", "n1×n1 Matrix"),
            ("diag(A)", "n1×1 Vector"),
            ("softmax(x)", "n1×1 Vector"),
            ("outer(x, y)", "n1×n2 Matrix"),
            ("x ⊗ y", "n1·n2×1 Vector"),
            ("A ⊗ B", "n1·n3×n2·n4 Matrix"),
            ("∇L(x)", "n1×1 Vector"),
            ("∇L(A)", "n1×n2 Matrix"),
            ("∇²L(x)", "n1×n1 Matrix"),
            ("∇²L(x) x", "n1×1 Vector"),
            ("xᵀ ∇²L(x) x", "1×1 Scalar"),
            ("commutation(A)", "n1·n2×n1·n2 Matrix"),
            ("commutation(A) vec(A)", "n1·n2×1 Vector"),
            ("inv(A) x", "n1×1 Vector"),
            ("A⁻¹", "n1×n1 Matrix"),
            ("x / α", "n1×1 Vector"),
            ("x.^2", "n1×1 Vector"),
            ("I x", "n1×1 Vector"),
            ("x + ones", "n1×1 Vector"),
            ("A + ones", "n1×n2 Matrix"),
            ("onesᵀ x", "1×1 Scalar"),
            ("α", "1×1 Scalar"),
            ("tr(A)", "1×1 Scalar"),
            ("h = A x; h", "n1×1 Vector"),
            ("h = x xᵀ; h x", "n1×1 Vector"),
        ] {
            assert_eq!(typed(input), expect, "{input}");
        }
    }

    #[test]
    fn shapes_of_builtins() {
        let c = ok("A : R^(m×n); B : R^(p×q); A ⊗ B");
        assert_eq!(c.shape.to_string(), "m·p×n·q");
        assert_eq!(dims(&c), ["m", "n", "p", "q"]);
        assert_eq!(typed("X : R^(m×n); vec(X)"), "m·n×1 Vector");
        assert_eq!(typed("x : R^n; diag(x)"), "n×n Matrix");
        assert_eq!(typed("A : R^(n×n); diag(A)"), "n×1 Vector");
        assert_eq!(typed("x : R^n; y : R^m; outer(x, y)"), "n×m Matrix");
        assert_eq!(
            typed("A : R^(n×n); det(A) + logdet(A) + tr(A) + trace(A)"),
            "1×1 Scalar"
        );
        assert_eq!(
            typed("A : R^(m×n); sum(A) + norm(A) + norm1(A)"),
            "1×1 Scalar"
        );
        assert_eq!(typed("x : R^n; logsumexp(x)"), "1×1 Scalar");
        assert_eq!(
            typed("Z : C^(m×n); conj(Z) + real(Z) ∘ imag(Z)"),
            "m×n Matrix"
        );
        for f in builtins::BUILTINS.iter().filter_map(|b| match b.builtin {
            Builtin::Elementwise(f) => Some(f),
            _ => None,
        }) {
            assert_eq!(typed(&format!("A : R^(m×n); {f}(A)")), "m×n Matrix", "{f}");
        }
        // Unknown sizes become square where a square matrix is needed.
        let c = ok("tr(A) + det(B) + x ∘ diag(C)");
        assert_eq!(
            vars(&c),
            [
                "A n1×n1 Matrix",
                "B n2×n2 Matrix",
                "x n3×1 Vector",
                "C n3×n3 Matrix"
            ]
        );
        // `logsumexp` and `softmax` make an unknown matrix a single column.
        assert_eq!(vars(&ok("logsumexp(X)")), ["X n1×1 Matrix"]);
        // The commutation matrix of an m×n matrix is (m·n)×(m·n), whatever the shape.
        assert_eq!(typed("X : R^(m×n); commutation(X)"), "m·n×m·n Matrix");
        assert_eq!(typed("X : R^(m×n); commutation(X) vec(X)"), "m·n×1 Vector");
        assert_eq!(typed("x : R^n; commutation(x)"), "n×n Matrix");
        assert_eq!(typed("X : R^(3×2); commutation(X)"), "6×6 Matrix");
        assert_eq!(typed("α : scalar; commutation(α)"), "1×1 Scalar");
        assert_eq!(
            typed("X : R^(m×n); commutation(Xᵀ) commutation(X)"),
            "m·n×m·n Matrix"
        );
        // The Hessian of a generic function is n×n at a column of length n.
        assert_eq!(typed("u : R^n; ∇²L(u)"), "n×n Matrix");
        assert_eq!(typed("A : R^(m×n); x : R^n; ∇²L(A x)"), "m×m Matrix");
        assert_eq!(typed("L : scalar-valued; α : scalar; ∇²L(α)"), "1×1 Scalar");
        // … and makes an unknown matrix a single column.
        assert_eq!(vars(&ok("∇²L(X)")), ["X n1×1 Matrix"]);
        let c = ok("x : R^n; ∇²L(x) + ∇L(x) ∇L(x)ᵀ + L(x) I");
        assert_eq!(funcs(&c), ["L ScalarValued"]);
        assert_eq!(c.shape.to_string(), "n×n");
    }

    #[test]
    fn unified_dims_are_shown_by_name() {
        let src = "W1 : R^(m×n)\nx : R^p\nσ(W1 x)";
        let d = err(src);
        assert_eq!(d.message, "W1 x: cannot multiply W1 (m×n) by x (p×1)");
        assert_eq!(
            d.render(src),
            "\
error: W1 x: cannot multiply W1 (m×n) by x (p×1)
 --> line 3, column 3
  |
3 | σ(W1 x)
  |   ^^^^ W1 has n columns but x has p rows
"
        );
        // Unknown sizes get names in messages too, after unification.
        let src = "x : R^n\nW2 : R^(p×q)\nL(σ(W1 x) ∘ W2)";
        assert_eq!(
            error_at(src),
            (
                "σ(W1 x) ∘ W2: cannot take the element-wise product of σ(W1 x) (p×1) and W2 (p×q)"
                    .to_string(),
                "  |           ^ the shapes differ".to_string()
            )
        );
    }

    #[test]
    fn shape_errors_name_operands_shapes_and_place() {
        for (input, message, caret) in [
            (
                "x : R^n; y : R^m; x + y",
                "x + y: cannot add x (n×1) and y (m×1)",
                "  |                     ^ the shapes differ",
            ),
            (
                "x : R^n; y : R^m; x - y",
                "x - y: cannot subtract y (m×1) from x (n×1)",
                "  |                     ^ the shapes differ",
            ),
            (
                "A : R^(n×m); B : R^(m×n); A ⊘ B",
                "A ⊘ B: cannot divide A (n×m) element-wise by B (m×n)",
                "  |                             ^ the shapes differ",
            ),
            (
                "x : R^n; y : R^n; x y",
                "x y: cannot multiply x (n×1) by y (n×1)",
                "  |                   ^^^ x has 1 column but y has n rows",
            ),
            (
                "A : R^(m×n); A * A",
                "A * A: cannot multiply A (m×n) by A (m×n)",
                "  |                ^ A has n columns but A has m rows",
            ),
            (
                "x : R^n; y : R^n; x / y",
                "x / y: cannot divide x (n×1) by y (n×1)",
                "  |                     ^ the divisor must be a scalar",
            ),
            (
                "A : R^(m×n); tr(A)",
                "tr(A): tr needs a square matrix, but A is m×n",
                "  |                 ^ not square",
            ),
            (
                "A : R^(m×n); inv(A)",
                "inv(A): inv needs a square matrix, but A is m×n",
                "  |                  ^ not square",
            ),
            (
                "A : R^(m×n); A⁻¹",
                "A⁻¹: cannot invert A (m×n): it is not square",
                "  |               ^^ inverse of a non-square matrix",
            ),
            (
                "A : R^(m×n); A^2",
                "A^2: cannot raise A (m×n) to a power: it is not square",
                "  |               ^^ power of a non-square matrix",
            ),
            (
                "A : R^(n×n); A^0.5",
                "A^0.5: a power of the matrix A (n×n) needs an integer literal exponent, not 0.5",
                "  |                ^^^ not an integer literal",
            ),
            (
                "A : R^(n×n); x : R^n; α^x",
                "α^x: the exponent x (n×1) is not a scalar",
                "  |                         ^ exponents are scalars",
            ),
            (
                "A : R^(m×n); logsumexp(A)",
                "logsumexp(A): logsumexp needs a vector, but A is m×n",
                "  |                        ^ not a column vector",
            ),
            (
                "x : R^n; y : R^m; outer(x, y) x",
                "outer(x, y) x: cannot multiply outer(x, y) (n×m) by x (n×1)",
                "  |                   ^^^^^^^^^^^^^ outer(x, y) has m columns but x has n rows",
            ),
            (
                "x y",
                "x y: cannot multiply x (n1×1) by y (n2×1)",
                "  | ^^^ x has 1 column but y has n2 rows",
            ),
            (
                "x^2",
                "x^2: cannot raise x (n1×1) to a power: it is not square",
                "  |  ^^ power of a non-square matrix",
            ),
            (
                "A : R^(m×n); ∇²L(A)",
                "∇²L(A): the Hessian of a generic function is only available at a vector, but A is m×n",
                "  |                  ^ not a column vector",
            ),
            (
                "x : R^n; ∇²L(xᵀ)",
                "∇²L(xᵀ): the Hessian of a generic function is only available at a vector, but xᵀ is 1×n",
                "  |              ^^ not a column vector",
            ),
            (
                "x : R^n; ∇²L(∇²L(x))",
                "∇²L(∇²L(x)): the Hessian of a generic function is only available at a vector, but ∇²L(x) is n×n",
                "  |              ^^^^^^ not a column vector",
            ),
            (
                "x : R^n; y : R^m; commutation(x) y",
                "commutation(x) y: cannot multiply commutation(x) (n×n) by y (m×1)",
                "  |                   ^^^^^^^^^^^^^^^^ commutation(x) has n columns but y has m rows",
            ),
        ] {
            let got = error_at(input);
            assert_eq!(got, (message.to_string(), caret.to_string()), "{input}");
        }
        // Notes explain and suggest.
        let d = err("x : R^n; y : R^n; x y");
        assert_eq!(d.notes, ["did you mean xᵀ y?"]);
        let d = err("x y");
        assert_eq!(
            d.notes,
            ["y is a vector of length n2, which is not taken to be 1; declare `y : scalar` if it is a scalar"]
        );
        let d = err("A : R^(m×n); B : R^(n×m); A + B");
        assert_eq!(d.notes, ["B has the shape of A transposed"]);
        let d = err("x : R^n; y : R^n; x / y");
        assert_eq!(
            d.notes,
            ["for element-wise division write `x ⊘ y` (or `./`)"]
        );
        let d = err("A : R^(m×n); ∇²L(A)");
        assert_eq!(d.notes, ["`∇²L(u)` needs a column u (n×1) and is n×n"]);
    }

    #[test]
    fn identity_and_ones_need_a_size() {
        let src = "x : R^n\ntr(I) + xᵀ x";
        let d = err(src);
        assert_eq!(
            d.render(src),
            "\
error: the size of `I` is not fixed by its use
 --> line 2, column 4
  |
2 | tr(I) + xᵀ x
  |    ^ nothing determines the size of this identity matrix
  |
  = note: use it where another operand fixes its size, as in `A + I` or `I x`
"
        );
        assert_eq!(
            error_at("sum(ones)"),
            (
                "the size of `ones` is not fixed by its use".to_string(),
                "  |     ^^^^ nothing determines the size of this matrix of ones".to_string()
            )
        );
        assert!(err("I + ones").message.contains("`I`"));
        let c = ok("A : R^(n×n); A + I");
        assert_eq!(c.expr.to_string(), "(+ A I[n,n])");
        let c = ok("x : R^n; onesᵀ x");
        assert_eq!(c.expr.to_string(), "(* (T ones[n,1]) x)");
        // Declared, `I` and `ones` are variables.
        let c = ok("I : R^(n×n); ones : R^n; I ones");
        assert_eq!(c.expr.to_string(), "(* I ones)");
        assert_eq!(c.kind, Kind::Vector);
    }

    #[test]
    fn name_errors() {
        for (input, message, caret) in [
            (
                "x + x(y)",
                "`x` is a variable, not a function",
                "  |     ^ called here",
            ),
            (
                "σ : elementwise; σ + x",
                "`σ` is a function and must be called, as in `σ(…)`",
                "  |                  ^ used as a value",
            ),
            (
                "g(x) + g",
                "`g` is a function and must be called, as in `g(…)`",
                "  |        ^ used as a value",
            ),
            (
                "exp + x",
                "`exp` is a built-in function and must be called, as in `exp(…)`",
                "  | ^^^ used as a value",
            ),
            (
                "L : scalar-valued; L'(u)",
                "`L` is scalar-valued: its derivative is the gradient `∇L(…)`",
                "  |                    ^ derivative of a scalar-valued function",
            ),
            (
                "σ : elementwise; ∇σ(u)",
                "`σ` is element-wise: its derivative is `σ'(…)`, not `∇σ(…)`",
                "  |                   ^ ∇ needs a scalar-valued function",
            ),
            (
                "x : R^n; x'(x)",
                "`x` is a variable, not a function",
                "  |          ^ differentiated here",
            ),
            (
                "tr'(A)",
                "`tr` is not element-wise: `tr'(…)` is not defined",
                "  | ^^ only element-wise functions have a derivative call",
            ),
            (
                "∇exp(x)",
                "`∇exp(…)` is not defined: ∇ applies to generic scalar-valued functions",
                "  |  ^^^ built-in function",
            ),
            (
                "σ : elementwise; ∇²σ(u)",
                "`σ` is element-wise: its derivatives are `σ'(…)` and `σ''(…)`, not `∇²σ(…)`",
                "  |                    ^ ∇² needs a scalar-valued function",
            ),
            (
                "∇²exp(x)",
                "`∇²exp(…)` is not defined: ∇² applies to generic scalar-valued functions",
                "  |   ^^^ built-in function",
            ),
            (
                "∇²commutation(x)",
                "`∇²commutation(…)` is not defined: ∇² applies to generic scalar-valued functions",
                "  |   ^^^^^^^^^^^ built-in function",
            ),
            (
                "x : R^n; ∇²x(x)",
                "`x` is a variable, not a function",
                "  |            ^ differentiated here",
            ),
            (
                "commutation(A, B)",
                "A: the arguments of `commutation(m, n)` are sizes",
                "  |             ^ not a size",
            ),
            (
                "commutation + A",
                "`commutation` is a built-in function and must be called, as in `commutation(…)`",
                "  | ^^^^^^^^^^^ used as a value",
            ),
            (
                "commutation : R^(n×n); commutation",
                "`commutation` is a built-in function and cannot be declared",
                "  | ^^^^^^^^^^^ built-in name",
            ),
            (
                "commutation = A; commutation",
                "`commutation` is built in and cannot be bound",
                "  | ^^^^^^^^^^^ built-in name",
            ),
            (
                "commutation'(A)",
                "`commutation` is not element-wise: `commutation'(…)` is not defined",
                "  | ^^^^^^^^^^^ only element-wise functions have a derivative call",
            ),
            (
                "I(x)",
                "`I` is the identity matrix, not a function",
                "  | ^ called here",
            ),
            (
                "ones(x)",
                "`ones` is a matrix of ones, not a function",
                "  | ^^^^ called here",
            ),
            (
                "outer(x)",
                "`outer` takes 2 arguments but 1 was given",
                "  | ^^^^^^^^ missing argument",
            ),
            (
                "exp(x, y)",
                "`exp` takes 1 argument but 2 were given",
                "  |        ^ unexpected argument",
            ),
            (
                "L(x, y, z)",
                "`L` takes 1 argument but 3 were given",
                "  |      ^ unexpected argument",
            ),
            (
                "tr()",
                "`tr` takes 1 argument but 0 were given",
                "  | ^^^^ missing argument",
            ),
            (
                "σ'(x, y)",
                "`σ` takes 1 argument but 2 were given",
                "  |       ^ unexpected argument",
            ),
            (
                "x : R^n; x : R^m; x",
                "`x` is declared twice",
                "  |          ^ declared again here",
            ),
            (
                "x : R^n; x : elementwise; x",
                "`x` is declared twice",
                "  |          ^ declared again here",
            ),
            (
                "exp : R^n; exp",
                "`exp` is a built-in function and cannot be declared",
                "  | ^^^ built-in name",
            ),
            (
                "h = x; h = y; h",
                "`h` is bound twice",
                "  |        ^ bound here",
            ),
            (
                "x : R^n; x = 2; x",
                "`x` is a variable and cannot also be bound",
                "  |          ^ bound here",
            ),
            (
                "h = h + 1; h",
                "`h` is a variable and cannot also be bound",
                "  | ^ bound here",
            ),
            (
                "tr = 2; tr",
                "`tr` is built in and cannot be bound",
                "  | ^^ built-in name",
            ),
            (
                "x + 1; x",
                "only the last statement can be the expression",
                "  | ^^^^^ this expression is not the last statement",
            ),
            (
                "xᵀ x; x : R^n",
                "only the last statement can be the expression",
                "  | ^^^^ this expression is followed by other statements",
            ),
            (
                "x : R^n\n",
                "the program has no expression",
                "  |        ^ the expression to differentiate should come here",
            ),
            (
                "",
                "the program has no expression",
                "  | ^ the expression to differentiate should come here",
            ),
        ] {
            let got = error_at(input);
            assert_eq!(got, (message.to_string(), caret.to_string()), "{input:?}");
        }
        let d = err("x : R^n; h = x + 1");
        assert_eq!(
            d.notes,
            ["the last statement is a binding; add a line `h` to differentiate it"]
        );
        let d = err("x + x(y)");
        assert_eq!(
            d.secondary,
            [(Span::new(0, 1), "declared or first used here".to_string())]
        );
        assert!(d.notes[0].contains("`x (…)`"), "{:?}", d.notes);
    }

    #[test]
    fn powers() {
        assert_eq!(typed("A : R^(n×n); A^2 + A^-2 + A^0 + A⁻¹"), "n×n Matrix");
        assert_eq!(typed("α^β + α^0.5 + α^(1/3) + 2^α"), "1×1 Scalar");
        assert_eq!(typed("x : R^n; (xᵀ x)^0.5"), "1×1 Scalar");
        // An unknown matrix becomes square.
        assert_eq!(vars(&ok("W^2 x")), ["W n1×n1 Matrix", "x n1×1 Vector"]);
        assert_eq!(typed("x : R^n; x.^0.5 + x^∘α"), "n×1 Vector");
    }

    #[test]
    fn fresh_names_avoid_declared_dims_and_identifiers() {
        let c = ok("x : R^n1; n2 : R^n1; B n2 + xᵀ x");
        assert_eq!(
            vars(&c),
            ["x n1×1 Vector", "n2 n1×1 Vector", "B n3×n1 Matrix"]
        );
        // Every dimension of every final shape is listed.
        assert_eq!(dims(&c), ["n1", "n3"]);
    }

    #[test]
    fn products_of_unknown_sizes() {
        let c = ok("vec(X) + y");
        assert_eq!(vars(&c), ["X n1×n2 Matrix", "y n1·n2×1 Vector"]);
        let d = err("y : R^p; vec(X) + y");
        assert_eq!(
            d.message,
            "cannot infer the sizes: the row counts of vec(X) and y must be equal (n1·n2 = p)"
        );
        assert_eq!(d.span.text("y : R^p; vec(X) + y"), "+");
        let c = ok("x : R^n; A : R^(m×n); (x ⊗ a)ᵀ vec(A ⊗ B)");
        assert_eq!(vars(&c)[2..], ["a m·n1·n2×1 Vector", "B n1×n2 Matrix"]);
        // Equal products cancel.
        let c = ok("x : R^n; x + vec(W)ᵀ vec(W) x");
        assert_eq!(c.shape.to_string(), "n×1");
        // A product equal to 1 makes every unknown factor 1.
        let c = ok("x : R^n; x / vec(V)");
        assert_eq!(vars(&c), ["x n×1 Vector", "V 1×1 Matrix"]);
    }

    #[test]
    fn operands_are_shown_short() {
        let src = "a  +\tb";
        assert_eq!(snippet(src, Span::new(0, src.len())), "a + b");
        let long = "x".repeat(40);
        assert_eq!(
            snippet(&long, Span::new(0, 40)),
            format!("{}…", "x".repeat(30))
        );
        assert_eq!(snippet(&long, Span::new(0, 32)), "x".repeat(32));
        let d = err("x : R^n; e^x");
        assert_eq!(d.notes, ["for the exponential write `exp(x)`"]);
    }

    #[test]
    fn monomials_unify_by_cancelling() {
        let mut u = Unifier::default();
        let (a, b) = (u.fresh(true), u.fresh(true));
        let n = Mono::rigid("n");
        assert_eq!(u.unify(&n.times(&a), &n.times(&Mono::rigid("m"))), Ok(true));
        assert_eq!(u.resolve(&a), Mono::rigid("m"));
        assert_eq!(u.unify(&a.times(&b), &Mono::rigid("p")), Ok(false));
        assert_eq!(
            u.unify(&Mono::lit(6), &Mono::lit(4)),
            Err(Failure::Mismatch)
        );
        assert_eq!(u.unify(&Mono::lit(2).times(&b), &Mono::lit(6)), Ok(true));
        assert_eq!(u.resolve(&b), Mono::lit(3));
        let v = u.fresh(false);
        assert!(matches!(
            u.unify(&v, &Mono::lit(1)),
            Err(Failure::VectorOfOne(_))
        ));
        let w = u.fresh(true);
        assert_eq!(u.unify(&v, &w), Ok(true));
        assert!(matches!(
            u.unify(&w, &Mono::lit(1)),
            Err(Failure::VectorOfOne(_))
        ));
        let z = u.fresh(true);
        assert_eq!(u.unify(&z, &Mono::lit(2).times(&z)), Err(Failure::Mismatch));
    }
}
