//! Generated programs: random well-typed compositions of every operator and built-in of
//! the language, over random shapes (square and not, symbolic and numeric dimensions),
//! real and complex variables (real variables mixed into complex expressions).
//!
//! For each program every derivative the CLI would compute (gradients, Jacobians,
//! element-wise derivatives, differentials with their vec-Jacobians, and Hessians for
//! some scalar programs) is derived and checked against finite differences by the
//! library's own verifier, and every printed result is parsed back (with the program's
//! declarations, the result's `where` bindings and the direction variables) and
//! evaluated at random inputs to the same value. A refusal fails the test unless its
//! reason is in [`ALLOWED_REFUSALS`].
//!
//! The seed is fixed; `MATDIFF_GENERATED=N` runs N programs instead of the default
//! [`DEFAULT_PROGRAMS`] (a longer local fuzz run), and `MATDIFF_GENERATED_SEED=S` starts
//! from another seed. A failing program found that way becomes a regular case in
//! [`REGRESSIONS`] (or a file in `tests/cases/`).
//!
//! The same file holds the robustness checks of the front end: random byte strings and
//! mutated programs give a result or a rendered error, never a panic, within bounded
//! time and stack.

use matdiff::engine::{derive, EngineError, Limits, Outcome, Request};
use matdiff::lang::dims::{Dim, Shape};
use matdiff::lang::{MathAnalysis, MathEGraph};
use matdiff::numeric::{self, verify, InputFamily, SplitMix64};
use matdiff::{check_program, render, Checked};
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

/// Programs in a plain `cargo test` run.
const DEFAULT_PROGRAMS: u64 = 200;
/// The seed of a plain run.
const DEFAULT_SEED: u64 = 20261204;
/// Largest nesting of operators in a generated expression.
const MAX_DEPTH: u32 = 3;

/// Refusals that are not failures: (a substring of the message, why it is allowed).
/// Kept as small as possible; each entry is documented in the README.
/// Each is (a substring of the reason, a substring of the program, why).
const ALLOWED_REFUSALS: &[(&str, &str, &str)] = &[
    (
        "node limit",
        "",
        "a resource limit (the test's lower node limit), not a missing rule: counted and printed",
    ),
    (
        "time limit",
        "",
        "a resource limit (the test's lower time limit), not a missing rule: counted and printed",
    ),
];

/// A regression that starts with this also asks for its Hessians.
const HESSIAN: &str = "hessian: ";

/// Programs that once failed (from a fuzz run), kept as regular cases.
const REGRESSIONS: &[&str] = &[
    "X : R^(n×n); a : R^n; diag(X) ∘ a",
    "z : C^n; b : C^n; imag(bᴴ z)^2",
    "z : C^n; A : C^(n×n); imag(zᴴ A z) + real(ⅈ zᴴ z)",
    "Z : C^(n×n); x : R^n; norm(imag(Z x))^2",
    "x : R^n; b : R^n; imag(ⅈ bᵀ x)^2",
    "A : R^(n×n); B : R^(m×m); sum(A ⊗ B)",
    "x : R^n; M : R^(m×n); L(vec(M x xᵀ))",
    // Seed 777 of a 3000-program run: results with a `ones` or commutation matrix whose
    // size the reader must infer.
    "hessian: σ : elementwise; L : scalar-valued; B : R^(n×n); norm(vec(B))",
    "hessian: σ : elementwise; L : scalar-valued; P : R^(2×3); norm(vec((Pᵀ) ⊘ exp(tanh(Pᵀ))))",
    "hessian: σ : elementwise; L : scalar-valued; P : R^(m×n); relu(norm((Pᵀ) ⊗ (P)))",
    "hessian: σ : elementwise; L : scalar-valued; u : R^m; A : R^(n×n); norm((A) ⊗ (u))",
    "hessian: σ : elementwise; L : scalar-valued; u : R^m; A : R^(n×n); norm((u) ⊗ (A))",
    "σ : elementwise; L : scalar-valued; u : R^m; B : R^(n×n); P : R^(m×n); (-(norm((Pᵀ) ⊗ (u))) (cos(B)))",
    "hessian: σ : elementwise; L : scalar-valued; u : R^m; P : R^(m×n); norm((softplus(u)) ⊗ (sigmoid(Pᵀ)))",
    "hessian: σ : elementwise; L : scalar-valued; y : R^3; P : R^(2×3); (norm((y) ⊗ (Pᵀ))).^2",
    "σ : elementwise; L : scalar-valued; y : R^3; P : R^(2×3); sum(((P).^2) ⊗ (vec(yᵀ)))",
    "σ : elementwise; L : scalar-valued; y : R^n; P : R^(m×n); sum((tan(tanh(Pᵀ))) ⊗ (tanh(y)))",
    "σ : elementwise; L : scalar-valued; α : R; A : R^(n×n); Q : R^(m×m); sum(((α) (A)) ⊗ (diag(Q)))",
    "σ : elementwise; L : scalar-valued; α : R; x : R^3; y : R^3; A : R^(3×3); (sum(((y) ⊘ (1 + (x) ∘ (x))) ⊗ (relu(A)))) / (2 + sin((α) / (2 + sin(α))))",
    "σ : elementwise; L : scalar-valued; α : R; x : R^n; y : R^n; u : R^m; sum(((norm1(x)) ((exp(tanh(u))).^α)) ⊗ ((tan(tanh(y))) / (1 + (α) ∘ (α))))",
    "σ : elementwise; L : scalar-valued; α : R; y : R^3; A : R^(3×3); ((A)') ((softmax(y))ᴴ ((y) - α))",
    "σ : elementwise; L : scalar-valued; α : R; β : R; B : R^(n×n); P : R^(m×n); sum(((cos(P)) (sin(β))) ⊗ (diag((B) / (2 + sin(α)))))",
    "hessian: σ : elementwise; L : scalar-valued; β : R; P : R^(2×3); (L(vec(P))) (β)",
    "σ : elementwise; L : scalar-valued; β : R; u : R^m; B : R^(n×n); P : R^(m×n); (((Pᵀ) (β))ᵀ) ((norm((B) ⊗ (u))).^3)",
    "σ : elementwise; L : scalar-valued; β : R; u : R^m; P : R^(m×n); Q : R^(m×m); sum((((softplus(Pᵀ)).^β) ∘ ((P)ᵀ)) ⊗ (((u) ⊘ softplus(u)) ∘ ((diag(Q) ∘ u))))",
    "hessian: σ : elementwise; L : scalar-valued; β : R; u : R^m; P : R^(m×n); norm(((β) (u)) ⊗ ((Pᵀ) ∘ (Pᵀ)))",
    "σ : elementwise; L : scalar-valued; β : R; u : R^m; P : R^(m×n); sum(((-σ(u))) ⊗ ((cos(P)) / (2 + sin(β))))",
    "σ : elementwise; L : scalar-valued; β : R; u : R^m; P : R^(m×n); sum(((β) (Pᵀ)) ⊗ (σ(u)))",
    "σ : elementwise; L : scalar-valued; β : R; x : R^3; sum(outer(((xᵀ)ᵀ)^∘2, (x) - (β) / (2 + sin(β))))",
];

/// A dimension of the generator's shapes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum D {
    One,
    N,
    M,
}

type S = (D, D);
const SC: S = (D::One, D::One);

/// The variables of a generated program, by shape and by realness.
struct Pool {
    /// (name, shape, complex)
    vars: Vec<(&'static str, S, bool)>,
}

impl Pool {
    fn new() -> Pool {
        use D::*;
        Pool {
            vars: vec![
                ("α", (One, One), false),
                ("β", (One, One), false),
                ("x", (N, One), false),
                ("y", (N, One), false),
                ("u", (M, One), false),
                ("A", (N, N), false),
                ("B", (N, N), false),
                ("P", (M, N), false),
                ("Q", (M, M), false),
                ("γ", (One, One), true),
                ("z", (N, One), true),
                ("w", (N, One), true),
                ("Z", (N, N), true),
            ],
        }
    }
}

/// The generator's state: the random stream, whether complex leaves may be drawn, and
/// the variables used.
struct Gen {
    rng: SplitMix64,
    complex_program: bool,
    used: BTreeSet<&'static str>,
    pool: Pool,
}

impl Gen {
    fn pick(&mut self, n: u64) -> u64 {
        self.rng.next_u64() % n
    }

    fn chance(&mut self, percent: u64) -> bool {
        self.pick(100) < percent
    }

    /// A leaf of shape `s`: a variable, or a transpose of one, or a product of leaves.
    fn leaf(&mut self, s: S, cx: bool) -> String {
        let allow_cx = cx && self.complex_program;
        let direct: Vec<(&'static str, bool)> = self
            .pool
            .vars
            .iter()
            .filter(|(_, vs, c)| *vs == s && (allow_cx || !c))
            .map(|(n, _, c)| (*n, *c))
            .collect();
        if !direct.is_empty() {
            // Prefer complex leaves in complex contexts.
            let complex: Vec<_> = direct.iter().filter(|(_, c)| *c).collect();
            let name = if !complex.is_empty() && self.chance(50) {
                complex[self.pick(complex.len() as u64) as usize].0
            } else {
                direct[self.pick(direct.len() as u64) as usize].0
            };
            self.used.insert(name);
            return name.to_string();
        }
        let transposed: Vec<&'static str> = self
            .pool
            .vars
            .iter()
            .filter(|(_, vs, c)| *vs == (s.1, s.0) && (allow_cx || !c))
            .map(|(n, _, _)| *n)
            .collect();
        if !transposed.is_empty() {
            let name = transposed[self.pick(transposed.len() as u64) as usize];
            self.used.insert(name);
            return format!("{name}ᵀ");
        }
        // (n×m): Pᵀ is handled above; (1×1) always exists; what is left is built from
        // columns (an outer product).
        let a = self.leaf((s.0, D::One), cx);
        let b = self.leaf((s.1, D::One), cx);
        format!("{a} {b}ᵀ")
    }

    /// A real expression with positive entries, shaped `s`.
    fn positive(&mut self, s: S, depth: u32) -> String {
        let d = depth.saturating_sub(1);
        match self.pick(4) {
            0 => format!("exp(tanh({}))", self.expr(s, d, false)),
            1 => {
                let a = self.expr(s, d, false);
                format!("(1 + ({a}) ∘ ({a}))")
            }
            2 => format!("softplus({})", self.expr(s, d, false)),
            _ => format!("(2 + sin({}))", self.expr(s, d, false)),
        }
    }

    /// A random dimension for the inner size of a product.
    fn dim(&mut self) -> D {
        [D::One, D::N, D::M][self.pick(3) as usize]
    }

    /// An expression shaped `s`; complex-valued allowed when `cx`.
    fn expr(&mut self, s: S, depth: u32, cx: bool) -> String {
        if depth == 0 {
            if s == SC && self.chance(15) {
                return ["2", "0.5", "3"][self.pick(3) as usize].into();
            }
            return self.leaf(s, cx);
        }
        let d = depth - 1;
        let square = s.0 == s.1 && s != SC;
        let column = s.1 == D::One && s.0 != D::One;
        // Shape-specific forms first, with some probability.
        if s == SC && self.chance(45) {
            return self.scalar(depth, cx);
        }
        if square && self.chance(30) {
            return self.square(s.0, depth, cx);
        }
        if column && self.chance(30) {
            return self.column(s.0, depth, cx);
        }
        match self.pick(22) {
            0 => format!("{} + {}", self.expr(s, d, cx), self.expr(s, d, cx)),
            1 => format!("({} - {})", self.expr(s, d, cx), self.expr(s, d, cx)),
            2 => format!("(-{})", self.expr(s, d, cx)),
            3 => format!("({}) ({})", self.expr(SC, d, cx), self.expr(s, d, cx)),
            4 => format!("({}) / {}", self.expr(s, d, cx), self.positive(SC, d)),
            5 => format!("({}) ∘ ({})", self.expr(s, d, cx), self.expr(s, d, cx)),
            6 => format!("({}) ⊘ {}", self.expr(s, d, cx), self.positive(s, d)),
            7 => {
                let k = self.dim();
                format!(
                    "({}) ({})",
                    self.expr((s.0, k), d, cx),
                    self.expr((k, s.1), d, cx)
                )
            }
            8 => format!("({})ᵀ", self.expr((s.1, s.0), d, cx)),
            9 if cx => format!("({})ᴴ", self.expr((s.1, s.0), d, cx)),
            9 => format!("({})'", self.expr((s.1, s.0), d, cx)),
            10 if cx => format!("conj({})", self.expr(s, d, cx)),
            10 | 11 => {
                let f = ["tanh", "sin", "cos", "sigmoid", "σ"][self.pick(5) as usize];
                format!("{f}({})", self.expr(s, d, false))
            }
            12 if cx => {
                let f = ["exp", "sin", "cos"][self.pick(3) as usize];
                format!("{f}(0.5 ({}))", self.expr(s, d, cx))
            }
            12 => format!("exp(tanh({}))", self.expr(s, d, false)),
            13 => {
                let f = ["relu", "abs", "sign", "softplus"][self.pick(4) as usize];
                format!("{f}({})", self.expr(s, d, false))
            }
            14 => {
                let f = ["log", "sqrt"][self.pick(2) as usize];
                format!("{f}({})", self.positive(s, d))
            }
            15 => format!("tan(tanh({}))", self.expr(s, d, false)),
            16 => {
                let p = ["2", "3", "∘2"][self.pick(3) as usize];
                if p == "∘2" {
                    format!("({})^∘2", self.expr(s, d, cx))
                } else {
                    format!("({}).^{p}", self.expr(s, d, cx))
                }
            }
            17 => format!("({}).^{}", self.positive(s, d), self.leaf(SC, false)),
            18 if !cx || !self.complex_program => {
                format!("({}) ({})", self.expr(s, d, cx), self.expr(SC, d, cx))
            }
            18 => {
                let f = ["real", "imag"][self.pick(2) as usize];
                format!("{f}({})", self.expr(s, d, true))
            }
            19 if !cx && self.complex_program => {
                let f = ["real", "imag", "abs"][self.pick(3) as usize];
                format!("{f}({})", self.expr(s, d, true))
            }
            19 => format!("({}) ⊗ ({})", self.expr(s, d, cx), self.expr(SC, d, cx)),
            20 if cx && self.complex_program && self.chance(50) => {
                format!("ⅈ ({})", self.expr(s, d, cx))
            }
            20 => format!("({}) - {}", self.expr(s, d, cx), self.expr(SC, d, cx)),
            _ => self.leaf(s, cx),
        }
    }

    /// A 1×1 expression from a reduction or a scalar-only operation.
    fn scalar(&mut self, depth: u32, cx: bool) -> String {
        let d = depth - 1;
        let any = |g: &mut Gen| -> S {
            [
                (D::N, D::N),
                (D::M, D::N),
                (D::N, D::One),
                (D::M, D::One),
                (D::N, D::M),
            ][g.pick(5) as usize]
        };
        let sq = |g: &mut Gen| -> S {
            if g.chance(70) {
                (D::N, D::N)
            } else {
                (D::M, D::M)
            }
        };
        let col = |g: &mut Gen| -> S {
            if g.chance(70) {
                (D::N, D::One)
            } else {
                (D::M, D::One)
            }
        };
        match self.pick(21) {
            0 => {
                let s = sq(self);
                format!("tr({})", self.expr(s, d, cx))
            }
            1 => {
                let s = sq(self);
                if self.chance(50) {
                    format!("det({})", self.leaf(s, cx))
                } else {
                    format!("det(3 I + tanh({}))", self.expr(s, d, false))
                }
            }
            2 => {
                let s = sq(self);
                format!("logdet(3 I + tanh({}))", self.expr(s, d, false))
            }
            3 => {
                let s = any(self);
                format!("sum({})", self.expr(s, d, cx))
            }
            4 => {
                let s = any(self);
                format!("norm({})", self.expr(s, d, true))
            }
            5 => {
                let s = any(self);
                format!("norm({})^2", self.expr(s, d, true))
            }
            6 => {
                let s = any(self);
                format!("norm1({})", self.expr(s, d, false))
            }
            7 => {
                let s = col(self);
                format!("logsumexp({})", self.expr(s, d, false))
            }
            8 => {
                let s = col(self);
                format!("L({})", self.expr(s, d, false))
            }
            9 => {
                let (a, b) = (any(self), any(self));
                format!("sum(({}) ⊗ ({}))", self.expr(a, d, cx), self.expr(b, d, cx))
            }
            10 => {
                let (a, b) = (sq(self), sq(self));
                format!("tr(({}) ⊗ ({}))", self.expr(a, d, cx), self.expr(b, d, cx))
            }
            11 => {
                let (a, b) = (any(self), any(self));
                format!(
                    "norm(({}) ⊗ ({}))",
                    self.expr(a, d, true),
                    self.expr(b, d, true)
                )
            }
            12 => {
                let (a, b) = (col(self), col(self));
                let (p, q) = (self.expr(a, d, cx), self.expr(b, d, cx));
                let (r, t) = (self.expr(a, d, cx), self.expr(b, d, cx));
                format!("(({p}) ⊗ ({q}))ᵀ (({r}) ⊗ ({t}))")
            }
            13 => {
                let s = any(self);
                format!("vec({})ᵀ vec({})", self.expr(s, d, cx), self.expr(s, d, cx))
            }
            14 => {
                let s = any(self);
                let f = ["sum", "norm", "logsumexp", "L"][self.pick(4) as usize];
                let real = f != "sum";
                format!("{f}(vec({}))", self.expr(s, d, cx && !real))
            }
            15 => format!("({})^2", self.expr(SC, d, cx)),
            16 => format!("({})^{}", self.positive(SC, d), self.leaf(SC, false)),
            17 => format!("({}) / {}", self.expr(SC, d, cx), self.positive(SC, d)),
            18 if !cx && self.complex_program => {
                let f = ["real", "imag", "abs"][self.pick(3) as usize];
                format!("{f}({})", self.expr(SC, d, true))
            }
            18 => format!("sin({})", self.expr(SC, d, false)),
            19 => {
                let (a, b) = (col(self), col(self));
                format!(
                    "sum(outer({}, {}))",
                    self.expr(a, d, cx),
                    self.expr(b, d, cx)
                )
            }
            _ => {
                let s = col(self);
                format!("({})ᴴ ({})", self.expr(s, d, cx), self.expr(s, d, cx))
            }
        }
    }

    /// A square (k×k) expression from a square-only operation.
    fn square(&mut self, k: D, depth: u32, cx: bool) -> String {
        let d = depth - 1;
        let s = (k, k);
        match self.pick(6) {
            0 => format!("inv({})", self.leaf(s, cx)),
            1 => format!("(3 I + tanh({}))⁻¹", self.expr(s, d, false)),
            2 => format!("({})²", self.expr(s, d, cx)),
            3 => format!("diag({})", self.expr((k, D::One), d, cx)),
            4 => format!(
                "outer({}, {})",
                self.expr((k, D::One), d, cx),
                self.expr((k, D::One), d, cx)
            ),
            _ => format!("({})^3", self.expr(s, d, cx)),
        }
    }

    /// A column (k×1) from a column-only operation.
    fn column(&mut self, k: D, depth: u32, cx: bool) -> String {
        let d = depth - 1;
        match self.pick(4) {
            0 => format!("softmax({})", self.expr((k, D::One), d, false)),
            1 => format!("diag({})", self.expr((k, k), d, cx)),
            2 => format!("vec({})", self.expr((D::One, k), d, cx)),
            _ => format!(
                "(diag({}) ∘ {})",
                self.expr((k, k), d, cx),
                self.expr((k, D::One), d, cx)
            ),
        }
    }
}

/// One generated program: its source, the variables used and whether to ask for the
/// Hessian.
struct Program {
    source: String,
    hessian: bool,
}

/// The type of a pool variable in the program's dimension spelling.
fn type_of(s: S, complex: bool, numeric: bool) -> String {
    let dim = |d: D| match (d, numeric) {
        (D::One, _) => "1",
        (D::N, false) => "n",
        (D::M, false) => "m",
        (D::N, true) => "3",
        (D::M, true) => "2",
    };
    let field = if complex { "C" } else { "R" };
    match s {
        (D::One, D::One) => field.to_string(),
        (r, D::One) => format!("{field}^{}", dim(r)),
        (r, c) => format!("{field}^({}×{})", dim(r), dim(c)),
    }
}

/// The declarations of the variables `used`, and the generic functions.
fn declarations(gen: &Gen, numeric: bool, extra: &[(String, S, bool)]) -> String {
    let mut out = String::from("σ : elementwise; L : scalar-valued");
    for (name, s, c) in &gen.pool.vars {
        if gen.used.contains(name) {
            out.push_str(&format!("; {name} : {}", type_of(*s, *c, numeric)));
        }
    }
    for (name, s, c) in extra {
        out.push_str(&format!("; {name} : {}", type_of(*s, *c, numeric)));
    }
    out
}

/// The `i`-th program of the stream from `seed`.
fn program(seed: u64, i: u64) -> Program {
    let mut gen = Gen {
        rng: SplitMix64::new(seed.wrapping_mul(0x9E37_79B9).wrapping_add(i)),
        complex_program: false,
        used: BTreeSet::new(),
        pool: Pool::new(),
    };
    gen.complex_program = gen.chance(35);
    let numeric = gen.chance(30);
    let depth = 1 + gen.pick(MAX_DEPTH as u64) as u32;
    // Scalar (gradients, some Hessians), or a real vector or matrix (Jacobians,
    // derivatives, differentials).
    let kind = gen.pick(10);
    let (expr, hessian) = if kind < 6 || gen.complex_program {
        let e = gen.expr(SC, depth, false);
        // Hessians of deep expressions can exhaust the e-graph (a known limit of the
        // forward-over-reverse second step): asked for on shallow programs only.
        let h = !gen.complex_program && depth <= 2 && gen.chance(35);
        (e, h)
    } else {
        let s = match kind {
            6 | 7 => (D::N, D::One),
            8 => (D::N, D::N),
            _ => (D::M, D::N),
        };
        (gen.expr(s, depth, false), false)
    };
    let source = format!("{}; {expr}", declarations(&gen, numeric, &[]));
    Program { source, hessian }
}

/// Tallies of a run.
#[derive(Default)]
struct Counts {
    programs: u64,
    results: u64,
    checks: u64,
    round_trips: u64,
    unsized_constants: u64,
    sized_round_trips: u64,
    by_kind: BTreeMap<String, u64>,
    refusals: BTreeMap<String, u64>,
}

/// What the CLI asks for each variable (LANGUAGE.md §2); `None` for a request the
/// language does not define (non-gradients wrt complex variables: never generated).
fn request(checked: &Checked, var: &matdiff::Variable, hessian: bool) -> Option<Request> {
    let r = matdiff::api::request_for(&checked.shape, &var.shape, hessian);
    (!var.complex || r == Request::Gradient).then_some(r)
}

/// The reason of a refusal, for the tallies and the allow-list.
fn reason(e: &EngineError) -> String {
    match e {
        EngineError::NoRule { construct, .. } => format!("no derivative rule for {construct}"),
        EngineError::Limit { limit, .. } => format!("stopped at the {limit}"),
        other => other.to_string(),
    }
}

/// Derive, verify and read back one program; failures are pushed to `failures`.
fn run_program(p: &Program, counts: &mut Counts, failures: &mut Vec<String>) {
    counts.programs += 1;
    let checked = match check_program(&p.source) {
        Ok(c) => c,
        Err(e) => {
            failures.push(format!(
                "generated program rejected:\n{}",
                e.render(&p.source)
            ));
            return;
        }
    };
    let wants: Vec<_> = checked
        .variables
        .iter()
        .filter_map(|v| {
            request(&checked, v, p.hessian).map(|r| (egg::Symbol::from(v.name.as_str()), r))
        })
        .collect();
    let shapes: BTreeMap<egg::Symbol, Shape> = checked
        .variables
        .iter()
        .map(|v| (egg::Symbol::from(v.name.as_str()), v.shape.clone()))
        .collect();
    let complex: Vec<egg::Symbol> = checked
        .variables
        .iter()
        .filter(|v| v.complex)
        .map(|v| egg::Symbol::from(v.name.as_str()))
        .collect();
    let analysis = MathAnalysis::new(shapes.clone()).with_complex(complex.iter().copied());
    let limits = Limits {
        node_limit: 60_000,
        time_limit: Duration::from_secs(5),
        ..Limits::default()
    };
    // The whole derivation runs under the deadline every phase honours, as in the CLI.
    let derived = {
        let _deadline = matdiff::engine::budget::Deadline::start(limits.time_limit);
        derive(&checked.expr, &analysis, &wants, &limits)
    };
    let outcome = match derived {
        Ok(o) => o,
        Err(e) => {
            let why = reason(&e);
            *counts.refusals.entry(why.clone()).or_default() += 1;
            if !ALLOWED_REFUSALS.iter().any(|(r, s, _)| {
                why.contains(r)
                    && p.source.contains(s)
                    && (s.is_empty() || complex_program(&checked))
            }) {
                failures.push(format!("{}\n  refused: {e}", p.source));
            }
            return;
        }
    };
    counts.results += outcome.derivatives.len() as u64;
    for d in &outcome.derivatives {
        *counts.by_kind.entry(format!("{:?}", d.kind)).or_default() += 1;
    }
    let (passed, report) = verify::verify(&checked, &analysis, &outcome, 2);
    counts.checks += 1;
    if !passed {
        failures.push(format!("{}\n  {}", p.source, report.trim()));
    }
    round_trip(p, &checked, &analysis, &outcome, counts, failures);
}

/// Every printed result, read back with the declarations, its `where` bindings and the
/// direction variables, evaluates to the value of the result.
fn round_trip(
    p: &Program,
    checked: &Checked,
    analysis: &MathAnalysis,
    outcome: &Outcome,
    counts: &mut Counts,
    failures: &mut Vec<String>,
) {
    let declarations = p.source.rsplit_once(';').map(|(d, _)| d).unwrap_or("");
    let mut directions = String::new();
    let mut vars: Vec<(egg::Symbol, Shape)> = analysis
        .var_shapes
        .iter()
        .map(|(k, v)| (*k, v.clone()))
        .collect();
    for &(x, dx) in &outcome.directions {
        if let Some(v) = checked.variables.iter().find(|v| v.name == x.as_str()) {
            let field = if v.complex { "C" } else { "R" };
            directions.push_str(&format!(
                "; {dx} : {field}^({}×{})",
                v.shape.rows, v.shape.cols
            ));
            vars.push((dx, v.shape.clone()));
        }
    }
    let complex: Vec<egg::Symbol> = analysis.complex_vars.iter().copied().collect();
    let dims = numeric::concrete_dims(&checked.dims);
    for d in &outcome.derivatives {
        // A result whose `I` or `ones` the text leaves unsized is read back with every
        // size declared instead.
        let sized = |counts: &mut Counts, failures: &mut Vec<String>| match read_back_sized(
            &format!("{declarations}{directions}"),
            checked,
            d,
            &dims,
        ) {
            Ok(None) => counts.sized_round_trips += 1,
            Ok(Some(why)) => failures.push(format!("{}\n  {:?} {why}", p.source, d.kind)),
            Err(_) => counts.unsized_constants += 1,
        };
        let sharing = render::share(&d.expr, &checked.binding_terms).with_variables(
            checked
                .variables
                .iter()
                .map(|v| (v.shape.clone(), v.name.clone())),
        );
        let (main, defs) = render::text::with_sharing(&d.expr, &sharing);
        let bindings: String = defs.iter().map(|(n, e)| format!("{n} = {e}; ")).collect();
        // The result's shape is known (from its label), so it is read back in a context
        // that fixes it: `0 Ω + result` with Ω declared of that shape; this fixes an `I`
        // or `ones` that is the whole result (`2 I`).
        let mut eg = MathEGraph::new(analysis.clone());
        let root = eg.add_expr(&d.expr);
        let anchor = eg[root].data.shape.clone().and_then(|s| {
            let (r, c) = (s.rows.to_string(), s.cols.to_string());
            let simple = |t: &str| t.chars().all(|ch| ch.is_alphanumeric() || ch == '_');
            (simple(&r) && simple(&c)).then(|| (format!("; Ω : R^({r}×{c})"), "0 Ω + "))
        });
        let (anchor_decl, anchor_expr) = anchor.unwrap_or_default();
        let mut vars = vars.clone();
        if let Some(s) = eg[root].data.shape.clone() {
            vars.push((egg::Symbol::from("Ω"), s));
        }
        let Ok(env) =
            numeric::random_complex_env(&vars, &complex, &dims, 11, InputFamily::WellConditioned)
        else {
            continue;
        };
        let source =
            format!("{declarations}{directions}{anchor_decl}; {bindings}{anchor_expr}({main})");
        let reparsed = match check_program(&source) {
            Ok(r) => r,
            Err(e) if e.message.contains("is not fixed") => {
                if std::env::var("MATDIFF_GENERATED_VERBOSE").is_ok() {
                    println!("unsized: {source}");
                }
                sized(counts, failures);
                continue;
            }
            // `s ones` with a matrix of ones reads back as a column (the README's limit).
            Err(_) if ambiguous(&main) => {
                sized(counts, failures);
                continue;
            }
            Err(e) => {
                failures.push(format!(
                    "{}\n  {:?} does not parse back:\n{}",
                    p.source,
                    d.kind,
                    e.render(&source)
                ));
                continue;
            }
        };
        // An `I` or `ones` whose size nothing fixes gets a fresh dimension when read
        // back (the README's limit): its value is not comparable.
        if reparsed.dims.iter().any(|d| !checked.dims.contains(d)) {
            if std::env::var("MATDIFF_GENERATED_VERBOSE").is_ok() {
                println!("unsized: {main} {:?} {:?}", reparsed.dims, checked.dims);
            }
            sized(counts, failures);
            continue;
        }
        match (
            numeric::eval(&d.expr, &env),
            numeric::eval(&reparsed.expr, &env),
        ) {
            (Ok(a), Ok(b)) if a.shape() != b.shape() && main.contains("ones") => {
                sized(counts, failures);
            }
            (Ok(a), Ok(b)) => {
                let b = if main == "0" {
                    a.map(|_| numeric::C64::new(0.0, 0.0))
                } else {
                    b
                };
                let ok = a.shape() == b.shape() && {
                    let err = numeric::rel_err(&a, &b);
                    err <= 1e-8 || !err.is_finite() && a.iter().any(|v| !v.re.is_finite())
                };
                counts.round_trips += 1;
                if !ok && ambiguous(&main) {
                    counts.round_trips -= 1;
                    sized(counts, failures);
                    if std::env::var("MATDIFF_GENERATED_VERBOSE").is_ok() {
                        println!("ambiguous: {source}");
                    }
                } else if !ok {
                    failures.push(format!(
                        "{}\n  {:?} `{source}` reads back to another value",
                        p.source, d.kind
                    ));
                }
            }
            (Err(_), _) => {}
            (Ok(_), Err(e)) => failures.push(format!(
                "{}\n  {:?} `{source}` reads back but does not evaluate: {e}",
                p.source, d.kind
            )),
        }
    }
}

/// `text` (declarations) with every symbolic dimension in its types replaced by its
/// number in `dims`.
fn numeric_types(text: &str, dims: &BTreeMap<egg::Symbol, usize>) -> String {
    text.split(';')
        .map(|stmt| match stmt.split_once(':') {
            Some((names, ty)) if ty.contains('^') => {
                let mut out = String::new();
                let mut word = String::new();
                let flush = |word: &mut String, out: &mut String| {
                    match dims.get(&egg::Symbol::from(word.as_str())) {
                        Some(n) => out.push_str(&n.to_string()),
                        None => out.push_str(word),
                    }
                    word.clear();
                };
                for ch in ty.chars() {
                    if ch.is_alphanumeric() || ch == '_' {
                        word.push(ch);
                    } else {
                        flush(&mut word, &mut out);
                        out.push(ch);
                    }
                }
                flush(&mut word, &mut out);
                format!("{names}:{out}")
            }
            _ => stmt.to_string(),
        })
        .collect::<Vec<_>>()
        .join(";")
}

/// Read back a result whose `I` or `ones` has a size its text does not fix, with every
/// size declared: the program's dimensions become numbers, and each `I` and `ones` a
/// declared variable of its size (`E_3_3 : R^(3×3)`, `O_9_1 : R^(9×1)`) holding the
/// identity or ones. Everything else is printed and parsed as usual. `Ok(None)` when it
/// reads back to the result's value, `Ok(Some(why))` when not, `Err` when it cannot be
/// evaluated here.
fn read_back_sized(
    declarations: &str,
    checked: &Checked,
    d: &matdiff::engine::Derivative,
    dims: &BTreeMap<egg::Symbol, usize>,
) -> Result<Option<String>, String> {
    use matdiff::lang::{FillKind, Math};
    let env0 = numeric::CEnv {
        vars: BTreeMap::new(),
        dims: dims.clone(),
    };
    let mut fills: BTreeMap<String, numeric::CMat> = BTreeMap::new();
    let mut nodes: Vec<Math> = vec![];
    for node in d.expr.as_ref() {
        let replaced = match node {
            Math::Fill(f) if matches!(f.kind, FillKind::Ones | FillKind::Identity) => {
                let r = env0.size(&f.shape.rows).map_err(|e| e.to_string())?;
                let c = env0.size(&f.shape.cols).map_err(|e| e.to_string())?;
                let (letter, value) = match f.kind {
                    FillKind::Identity => ("E", numeric::CMat::identity(r, c)),
                    _ => (
                        "O",
                        numeric::CMat::from_element(r, c, numeric::C64::new(1.0, 0.0)),
                    ),
                };
                let name = format!("{letter}_{r}_{c}");
                fills.insert(name.clone(), value);
                Math::Var(egg::Symbol::from(name.as_str()))
            }
            // A commutation matrix keeps its kind, with its sizes as numbers.
            Math::Fill(f) if f.kind == FillKind::Commutation => {
                let r = env0.size(&f.shape.rows).map_err(|e| e.to_string())?;
                let c = env0.size(&f.shape.cols).map_err(|e| e.to_string())?;
                Math::Fill(matdiff::lang::Fill {
                    kind: FillKind::Commutation,
                    shape: Shape::new(Dim::lit(r as u64), Dim::lit(c as u64)),
                })
            }
            other => other.clone(),
        };
        nodes.push(replaced);
    }
    let expr: egg::RecExpr<Math> = nodes.into();
    let sharing = render::share(&expr, &checked.binding_terms).with_variables(
        checked
            .variables
            .iter()
            .map(|v| (v.shape.clone(), v.name.clone())),
    );
    let (main, defs) = render::text::with_sharing(&expr, &sharing);
    let bindings: String = defs.iter().map(|(n, e)| format!("{n} = {e}; ")).collect();
    let fill_decls: String = fills
        .iter()
        .map(|(n, v)| format!("; {n} : R^({}×{})", v.nrows(), v.ncols()))
        .collect();
    let source = format!(
        "{}{fill_decls}; {bindings}({main})",
        numeric_types(declarations, dims)
    );
    let reparsed = match check_program(&source) {
        Ok(r) => r,
        Err(e) => return Ok(Some(format!("does not parse back:\n{}", e.render(&source)))),
    };
    let mut vars: Vec<(egg::Symbol, Shape)> = checked
        .variables
        .iter()
        .map(|v| (egg::Symbol::from(v.name.as_str()), v.shape.clone()))
        .collect();
    let complex: Vec<egg::Symbol> = checked
        .variables
        .iter()
        .filter(|v| v.complex)
        .map(|v| egg::Symbol::from(v.name.as_str()))
        .collect();
    for v in &reparsed.variables {
        let s = egg::Symbol::from(v.name.as_str());
        if !vars.iter().any(|(w, _)| *w == s) && !fills.contains_key(&v.name) {
            // A direction variable (`dX`), declared with numeric sizes here.
            let shape = checked
                .variables
                .iter()
                .find(|w| format!("d{}", w.name) == v.name)
                .map(|w| w.shape.clone())
                .unwrap_or_else(|| v.shape.clone());
            vars.push((s, shape));
        }
    }
    let mut env =
        numeric::random_complex_env(&vars, &complex, dims, 11, InputFamily::WellConditioned)
            .map_err(|e| e.to_string())?;
    for (n, v) in fills {
        env.vars.insert(egg::Symbol::from(n.as_str()), v);
    }
    let a = numeric::eval(&d.expr, &env).map_err(|e| e.to_string())?;
    let b = match numeric::eval(&reparsed.expr, &env) {
        Ok(b) => b,
        Err(e) => {
            return Ok(Some(format!(
                "`{source}` reads back but does not evaluate: {e}"
            )))
        }
    };
    let b = if main == "0" {
        a.map(|_| numeric::C64::new(0.0, 0.0))
    } else {
        b
    };
    let err = numeric::rel_err(&a, &b);
    let ok = a.shape() == b.shape()
        && (err <= 1e-8 || !err.is_finite() && a.iter().any(|v| !v.re.is_finite()));
    Ok((!ok).then(|| format!("`{source}` reads back to another value")))
}

/// Whether some variable of the program is complex.
fn complex_program(checked: &Checked) -> bool {
    checked.variables.iter().any(|v| v.complex)
}

/// Whether a printed result has an `I` or `ones` (their sizes are inferred when read
/// back, and a scaling `s ones` reads back as a column).
fn ambiguous(text: &str) -> bool {
    text.split(|c: char| !c.is_alphanumeric())
        .any(|w| w == "I" || w == "ones")
}

/// An environment variable as a number.
fn env_number(name: &str) -> Option<u64> {
    std::env::var(name).ok().and_then(|v| v.parse().ok())
}

#[test]
fn generated_programs_differentiate_correctly() {
    let count = env_number("MATDIFF_GENERATED").unwrap_or(DEFAULT_PROGRAMS);
    let seed = env_number("MATDIFF_GENERATED_SEED").unwrap_or(DEFAULT_SEED);
    let mut counts = Counts::default();
    let mut failures = vec![];
    let programs = REGRESSIONS
        .iter()
        .map(|s| match s.strip_prefix(HESSIAN) {
            Some(source) => Program {
                source: source.to_string(),
                hessian: true,
            },
            None => Program {
                source: s.to_string(),
                hessian: false,
            },
        })
        .chain((0..count).map(|i| program(seed, i)));
    let mut slowest: Vec<(f64, String)> = vec![];
    let verbose = std::env::var("MATDIFF_GENERATED_VERBOSE").is_ok();
    for p in programs {
        if verbose {
            println!("program: {}", p.source);
        }
        let start = std::time::Instant::now();
        run_program(&p, &mut counts, &mut failures);
        let seconds = start.elapsed().as_secs_f64();
        if seconds > 3.0 {
            println!("slow: {seconds:.1} s {}", p.source);
        }
        slowest.push((seconds, p.source.clone()));
    }
    slowest.sort_by(|a, b| b.0.total_cmp(&a.0));
    for (t, s) in slowest.iter().take(5) {
        println!("slowest: {t:.2} s {s}");
    }
    println!(
        "generated: {} programs (seed {seed}), {} results {:?}, {} checked runs, {} read back, {} more read back with the sizes of their I/ones declared ({} skipped), refusals by reason {:?}",
        counts.programs,
        counts.results,
        counts.by_kind,
        counts.checks,
        counts.round_trips,
        counts.sized_round_trips,
        counts.unsized_constants,
        counts.refusals
    );
    assert!(
        failures.is_empty(),
        "{} failures of {} programs:\n{}",
        failures.len(),
        counts.programs,
        failures.join("\n\n")
    );
    assert!(
        counts.unsized_constants * 20 <= counts.round_trips.max(1),
        "too many results with an unsized `I` or `ones`: {}",
        counts.unsized_constants
    );
}

/// Pieces that mutations insert: tokens of the language and troublesome bits.
const TOKENS: &[&str] = &[
    "(",
    ")",
    "ᵀ",
    "ᴴ",
    "⁻¹",
    "²",
    "^",
    "^-1",
    ".^",
    "^∘",
    "'",
    "∘",
    "⊘",
    "⊗",
    "*",
    "/",
    "+",
    "-",
    "−",
    ";",
    "\n",
    ":",
    ",",
    "=",
    "#",
    "x",
    "A",
    "α",
    "σ",
    "L",
    "I",
    "ones",
    "0",
    "1e999",
    "-0.0",
    "1e-320",
    "sum(",
    "diag(",
    "vec(",
    "outer(",
    "det(",
    "inv(",
    "grad(",
    "σ'(",
    "∇L(",
    "R^(n×",
    "C^",
    "scalar",
    "elementwise",
    "×",
    "{",
    "}",
    "[",
    "∇²L(",
    "commutation(",
    "relu'(",
    "ⅈ",
    "\u{0}",
    "\u{FEFF}",
    "é",
    "𝑥",
];

/// A random mutation of `source`: a deletion, an insertion, a duplication or a swap.
fn mutate(source: &str, rng: &mut SplitMix64) -> String {
    let chars: Vec<char> = source.chars().collect();
    let n = chars.len().max(1) as u64;
    let at = (rng.next_u64() % n) as usize;
    let len = (rng.next_u64() % 6) as usize;
    let mut out = chars.clone();
    match rng.next_u64() % 4 {
        0 => {
            let end = (at + len).min(out.len());
            if at < end {
                out.drain(at..end);
            }
        }
        1 => {
            let token = TOKENS[(rng.next_u64() % TOKENS.len() as u64) as usize];
            let at = at.min(out.len());
            out.splice(at..at, token.chars());
        }
        2 => {
            let end = (at + len + 1).min(chars.len());
            let piece: Vec<char> = chars.get(at..end).unwrap_or_default().to_vec();
            let at = at.min(out.len());
            out.splice(at..at, piece);
        }
        _ => {
            let other = (rng.next_u64() % n) as usize;
            if at < out.len() && other < out.len() {
                out.swap(at, other);
            }
        }
    }
    out.into_iter().collect()
}

/// Run the CLI on `source` in a thread: no panic, an exit status of 0, 1 or 2 with an
/// error message on failure, within a minute (a hang detector, not a speed claim; the
/// engine's own limits are set low). `None` when it passed, else what went wrong.
fn robust(source: &str) -> Option<String> {
    let owned = source.to_string();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::Builder::new()
        .stack_size(8 << 20)
        .spawn(move || {
            let args = <matdiff::cli::Args as clap::Parser>::parse_from([
                "matdiff",
                "--node-limit",
                "20000",
                "--time-limit",
                "2",
                "--",
                &owned,
            ]);
            let result = std::panic::catch_unwind(|| matdiff::cli::run(&args, &owned));
            let _ = tx.send(result.map(|o| (o.code, o.stderr)).map_err(|_| ()));
        })
        .expect("a thread");
    match rx.recv_timeout(Duration::from_secs(60)) {
        Ok(Ok((0, _))) => None,
        Ok(Ok((1 | 2, stderr))) if stderr.starts_with("error") => None,
        Ok(Ok((code, stderr))) => Some(format!("exit {code}: {stderr}")),
        Ok(Err(())) => Some("panicked".into()),
        Err(_) => Some("no answer within a minute".into()),
    }
}

/// The programs of `tests/cases/` and a few generated ones: the seeds of mutations.
fn mutation_seeds() -> Vec<String> {
    let mut seeds: Vec<String> = std::fs::read_dir("tests/cases")
        .expect("tests/cases")
        .filter_map(|e| std::fs::read_to_string(e.ok()?.path()).ok())
        .collect();
    seeds.sort();
    seeds.extend((0..20).map(|i| program(DEFAULT_SEED, i).source));
    seeds
}

#[test]
fn random_bytes_and_mutated_programs_never_panic() {
    let count = env_number("MATDIFF_ROBUSTNESS").unwrap_or(400);
    let mut rng = SplitMix64::new(env_number("MATDIFF_GENERATED_SEED").unwrap_or(DEFAULT_SEED));
    let mut failures = vec![];
    let mut inputs: Vec<String> = vec![];
    // Random bytes (as the CLI would read them: lossy UTF-8), and random token soups.
    for _ in 0..count / 2 {
        let len = rng.next_u64() % 48;
        let bytes: Vec<u8> = (0..len).map(|_| rng.next_u64() as u8).collect();
        inputs.push(String::from_utf8_lossy(&bytes).into_owned());
        let soup: String = (0..len % 12)
            .map(|_| TOKENS[(rng.next_u64() % TOKENS.len() as u64) as usize])
            .collect();
        inputs.push(soup);
    }
    // Mutated programs: one to four mutations each.
    let seeds = mutation_seeds();
    for i in 0..count {
        let mut p = seeds[i as usize % seeds.len()].clone();
        for _ in 0..1 + rng.next_u64() % 4 {
            p = mutate(&p, &mut rng);
        }
        inputs.push(p);
    }
    // Deep nesting must be an error, not a stack overflow.
    for n in [1000, 5000] {
        inputs.push(format!("{}x{}", "(".repeat(n), ")".repeat(n)));
        inputs.push(format!("{}x", "-".repeat(n)));
        inputs.push(format!("x{}", "ᵀ".repeat(n)));
        inputs.push(format!("{}x{}", "sum(".repeat(n), ")".repeat(n)));
        inputs.push(format!("x{}", "^2".repeat(n)));
    }
    let mut outcomes: BTreeMap<&str, u64> = BTreeMap::new();
    for input in &inputs {
        match robust(input) {
            None => *outcomes.entry("handled").or_default() += 1,
            Some(problem) => {
                *outcomes.entry("failed").or_default() += 1;
                failures.push(format!("{input:?}\n  {problem}"));
            }
        }
    }
    println!("robustness: {} inputs, {outcomes:?}", inputs.len());
    assert!(
        failures.is_empty(),
        "{} inputs were not handled:\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}
