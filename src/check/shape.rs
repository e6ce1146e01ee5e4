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

use crate::lang::dims::{Dim, Kind, Shape};
use crate::lang::BUILTIN_ELEMENTWISE;
use crate::syntax::ast::*;
use crate::syntax::diagnostic::Diagnostic;
use egg::Symbol;
use std::collections::{HashMap, HashSet};

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

/// The built-in functions of LANGUAGE.md §1.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Builtin {
    /// `exp log sin cos tan tanh sqrt abs sign sigmoid relu softplus`
    Elementwise(&'static str),
    /// `tr`, `trace`
    Trace,
    /// `det(A)`: the determinant of a square matrix.
    Det,
    /// `logdet(A)`: log |det A| of a square matrix.
    LogDet,
    /// `sum(A)`: the sum of all entries.
    Sum,
    /// `norm(a)`: the 2-norm of a vector, the Frobenius norm of a matrix.
    Norm,
    /// `norm1(a)`: the sum of the absolute values of the entries.
    Norm1,
    /// `logsumexp(x)`: log Σ exp(xᵢ) of a vector.
    LogSumExp,
    /// `inv(A)`: the inverse of a square matrix, as `A⁻¹`.
    Inv,
    /// `diag(x)`: a vector to its diagonal matrix, a matrix to its diagonal (a column).
    Diag,
    /// `vec(A)`: the columns of A stacked into one column.
    Vec,
    /// `softmax(x)`: exp(x) / sum(exp(x)) of a vector.
    Softmax,
    /// `outer(a, b)` = a bᵀ
    Outer,
    /// `conj(A)`: the entry-wise complex conjugate.
    Conj,
    /// `real(A)`: the entry-wise real part.
    Real,
    /// `imag(A)`: the entry-wise imaginary part.
    Imag,
    /// `commutation(A)`: the commutation matrix K with K vec(A) = vec(Aᵀ), (m·n)×(m·n)
    /// for A m×n
    Commutation,
    /// `grad(e, X)`: the gradient of a 1×1 `e` with respect to the variable X, shaped
    /// like X; `grad(E, X, G)`: the gradient of sum(G ∘ E) with respect to X with G held
    /// fixed (G shaped like E), as `--explain` writes the steps of a derivation
    Grad,
}

/// The names of the built-in functions that are not element-wise.
pub const BUILTIN_OTHER: &[&str] = &[
    "tr",
    "trace",
    "det",
    "logdet",
    "sum",
    "norm",
    "norm1",
    "logsumexp",
    "inv",
    "diag",
    "vec",
    "softmax",
    "outer",
    "conj",
    "real",
    "imag",
    "commutation",
    "grad",
];

/// Common spellings of built-ins from other tools that are not near them in spelling.
const ALIASES: &[(&str, &str)] = &[("ln", "log"), ("logistic", "sigmoid"), ("transpose", "ᵀ")];

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
    BUILTIN_ELEMENTWISE
        .iter()
        .chain(BUILTIN_OTHER)
        .map(|b| (edit_distance(name, b), *b))
        .filter(|(d, b)| *d <= if b.len().min(len) >= 5 { 2 } else { 1 })
        .min()
        .map(|(_, b)| b)
}

impl Builtin {
    /// The built-in function called `name`, if any.
    pub fn from_name(name: &str) -> Option<Builtin> {
        if let Some(f) = BUILTIN_ELEMENTWISE.iter().find(|&&f| f == name) {
            return Some(Builtin::Elementwise(f));
        }
        Some(match name {
            "tr" | "trace" => Builtin::Trace,
            "det" => Builtin::Det,
            "logdet" => Builtin::LogDet,
            "sum" => Builtin::Sum,
            "norm" => Builtin::Norm,
            "norm1" => Builtin::Norm1,
            "logsumexp" => Builtin::LogSumExp,
            "inv" => Builtin::Inv,
            "diag" => Builtin::Diag,
            "vec" => Builtin::Vec,
            "softmax" => Builtin::Softmax,
            "outer" => Builtin::Outer,
            "conj" => Builtin::Conj,
            "real" => Builtin::Real,
            "imag" => Builtin::Imag,
            "commutation" => Builtin::Commutation,
            "grad" => Builtin::Grad,
            _ => return None,
        })
    }

    /// How many arguments it takes (`grad` also takes a third, the weight G).
    pub fn arity(self) -> usize {
        match self {
            Builtin::Outer | Builtin::Grad => 2,
            _ => 1,
        }
    }
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
// Dimensions and unification

/// A dimension during inference: `coef · rigid… · flex…`.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Mono {
    coef: u64,
    /// Sorted by name.
    rigid: Vec<Symbol>,
    /// Sorted; roots after [`Unifier::resolve`].
    flex: Vec<usize>,
}

impl Mono {
    fn lit(n: u64) -> Mono {
        Mono {
            coef: n,
            rigid: vec![],
            flex: vec![],
        }
    }

    fn rigid(name: &str) -> Mono {
        Mono {
            coef: 1,
            rigid: vec![Symbol::from(name)],
            flex: vec![],
        }
    }

    fn flex(v: usize) -> Mono {
        Mono {
            coef: 1,
            rigid: vec![],
            flex: vec![v],
        }
    }

    fn is_one(&self) -> bool {
        self.coef == 1 && self.rigid.is_empty() && self.flex.is_empty()
    }

    fn times(&self, other: &Mono) -> Mono {
        let mut rigid: Vec<Symbol> = self.rigid.iter().chain(&other.rigid).copied().collect();
        rigid.sort_by(|a, b| a.as_str().cmp(b.as_str()));
        let mut flex: Vec<usize> = self.flex.iter().chain(&other.flex).copied().collect();
        flex.sort_unstable();
        Mono {
            coef: self.coef.saturating_mul(other.coef),
            rigid,
            flex,
        }
    }

    /// The flexible variable this is, if it is exactly one.
    fn single_flex(&self) -> Option<usize> {
        match (self.coef, self.rigid.as_slice(), self.flex.as_slice()) {
            (1, [], [f]) => Some(*f),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Failure {
    /// The two dimensions differ.
    Mismatch,
    /// A vector's flexible length would have to be 1.
    VectorOfOne(usize),
}

#[derive(Debug, Clone)]
struct FlexVar {
    parent: usize,
    value: Option<Mono>,
    can_be_one: bool,
}

#[derive(Debug, Clone, Default)]
struct Unifier {
    vars: Vec<FlexVar>,
}

impl Unifier {
    fn fresh(&mut self, can_be_one: bool) -> Mono {
        let v = self.vars.len();
        self.vars.push(FlexVar {
            parent: v,
            value: None,
            can_be_one,
        });
        Mono::flex(v)
    }

    fn find(&mut self, v: usize) -> usize {
        let mut root = v;
        while self.vars[root].parent != root {
            root = self.vars[root].parent;
        }
        let mut cur = v;
        while self.vars[cur].parent != root {
            let next = self.vars[cur].parent;
            self.vars[cur].parent = root;
            cur = next;
        }
        root
    }

    /// Substitutes solved variables (iteratively: the occurs check rules out cycles).
    fn resolve(&mut self, m: &Mono) -> Mono {
        let mut out = Mono {
            coef: m.coef,
            rigid: m.rigid.clone(),
            flex: vec![],
        };
        let mut todo = m.flex.clone();
        while let Some(f) = todo.pop() {
            let r = self.find(f);
            match &self.vars[r].value {
                Some(v) => {
                    out.coef = out.coef.saturating_mul(v.coef);
                    out.rigid.extend(v.rigid.iter().copied());
                    todo.extend(v.flex.iter().copied());
                }
                None => out.flex.push(r),
            }
        }
        out.rigid.sort_by(|a, b| a.as_str().cmp(b.as_str()));
        out.flex.sort_unstable();
        out
    }

    /// Makes two dimensions equal: `Ok(true)` if done, `Ok(false)` if it cannot be decided
    /// yet (`n1·n2 = p`), an error if they differ.
    fn unify(&mut self, a: &Mono, b: &Mono) -> std::result::Result<bool, Failure> {
        let mut a = self.resolve(a);
        let mut b = self.resolve(b);
        cancel(&mut a, &mut b);
        if a == b {
            return Ok(true);
        }
        if let Some(f) = a.single_flex() {
            return self.bind(f, b);
        }
        if let Some(f) = b.single_flex() {
            return self.bind(f, a);
        }
        if a.flex.is_empty() && b.flex.is_empty() {
            return Err(Failure::Mismatch);
        }
        // `n1·n2 = 1`: every factor is 1.
        for (x, y) in [(&a, &b), (&b, &a)] {
            if y.is_one() && x.coef == 1 && x.rigid.is_empty() {
                for &f in &x.flex {
                    self.bind(f, Mono::lit(1))?;
                }
                return Ok(true);
            }
        }
        Ok(false)
    }

    fn bind(&mut self, f: usize, value: Mono) -> std::result::Result<bool, Failure> {
        if value.flex.contains(&f) {
            return Err(Failure::Mismatch);
        }
        if value.is_one() && !self.vars[f].can_be_one {
            return Err(Failure::VectorOfOne(f));
        }
        if let Some(g) = value.single_flex() {
            let keep = self.vars[f].can_be_one && self.vars[g].can_be_one;
            self.vars[f].parent = g;
            self.vars[g].can_be_one = keep;
        } else {
            self.vars[f].value = Some(value);
        }
        Ok(true)
    }

    fn is_one(&mut self, m: &Mono) -> bool {
        self.resolve(m).is_one()
    }
}

/// Removes common factors: `n·a = n·b` becomes `a = b` (dimensions are positive).
fn cancel(a: &mut Mono, b: &mut Mono) {
    let g = gcd(a.coef, b.coef);
    if g > 1 {
        a.coef /= g;
        b.coef /= g;
    }
    let common_rigid = common(&a.rigid, &b.rigid);
    for s in common_rigid {
        remove_one(&mut a.rigid, &s);
        remove_one(&mut b.rigid, &s);
    }
    let common_flex = common(&a.flex, &b.flex);
    for f in common_flex {
        remove_one(&mut a.flex, &f);
        remove_one(&mut b.flex, &f);
    }
}

fn common<T: PartialEq + Clone>(a: &[T], b: &[T]) -> Vec<T> {
    let mut rest = b.to_vec();
    let mut out = vec![];
    for x in a {
        if let Some(i) = rest.iter().position(|y| y == x) {
            rest.remove(i);
            out.push(x.clone());
        }
    }
    out
}

fn remove_one<T: PartialEq>(v: &mut Vec<T>, x: &T) {
    if let Some(i) = v.iter().position(|y| y == x) {
        v.remove(i);
    }
}

fn gcd(a: u64, b: u64) -> u64 {
    if b == 0 {
        a
    } else {
        gcd(b, a % b)
    }
}

/// A shape during inference.
#[derive(Debug, Clone, PartialEq, Eq)]
struct ShapeT {
    rows: Mono,
    cols: Mono,
}

impl ShapeT {
    fn scalar() -> ShapeT {
        ShapeT {
            rows: Mono::lit(1),
            cols: Mono::lit(1),
        }
    }

    fn new(rows: Mono, cols: Mono) -> ShapeT {
        ShapeT { rows, cols }
    }

    fn transposed(&self) -> ShapeT {
        ShapeT::new(self.cols.clone(), self.rows.clone())
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

impl<'a> Checker<'a> {
    fn new(program: &Program, source: &'a str) -> Checker<'a> {
        let mut reserved = HashSet::new();
        collect_identifiers(program, &mut reserved);
        Checker {
            source,
            u: Unifier::default(),
            names: HashMap::new(),
            vars: vec![],
            funcs: vec![],
            binds: vec![],
            shapes: vec![None; program.node_count],
            res: vec![None; program.node_count],
            fills: vec![],
            pending: vec![],
            reserved,
            flex_names: HashMap::new(),
            next_fresh: 1,
        }
    }

    fn text(&self, span: Span) -> String {
        snippet(self.source, span)
    }

    /// The name of a flexible root: `n1`, `n2`, … avoiding every identifier.
    fn flex_name(&mut self, root: usize) -> Symbol {
        if let Some(s) = self.flex_names.get(&root) {
            return *s;
        }
        loop {
            let name = format!("n{}", self.next_fresh);
            self.next_fresh += 1;
            if !self.reserved.contains(&name) {
                let sym = Symbol::from(name.as_str());
                self.flex_names.insert(root, sym);
                return sym;
            }
        }
    }

    fn dim(&mut self, m: &Mono) -> Dim {
        let m = self.u.resolve(m);
        let mut syms = m.rigid.clone();
        for &f in &m.flex {
            syms.push(self.flex_name(f));
        }
        syms.sort_by(|a, b| a.as_str().cmp(b.as_str()));
        Dim { coef: m.coef, syms }
    }

    fn shape(&mut self, s: &ShapeT) -> Shape {
        Shape::new(self.dim(&s.rows), self.dim(&s.cols))
    }

    fn show(&mut self, s: &ShapeT) -> String {
        self.shape(s).to_string()
    }

    fn show_dim(&mut self, m: &Mono) -> String {
        self.dim(m).to_string()
    }

    /// Unifies two dimensions; a constraint that cannot be decided yet is kept for the end.
    fn unify(
        &mut self,
        a: &Mono,
        b: &Mono,
        span: Span,
        what: impl FnOnce() -> String,
    ) -> std::result::Result<(), Failure> {
        if !self.u.unify(a, b)? {
            self.pending.push(Pending {
                a: a.clone(),
                b: b.clone(),
                span,
                what: what(),
            });
        }
        Ok(())
    }

    /// Unifies two shapes, rows first.
    fn unify_shapes(
        &mut self,
        a: &ShapeT,
        b: &ShapeT,
        span: Span,
        what: &str,
    ) -> std::result::Result<(), Failure> {
        self.unify(&a.rows, &b.rows, span, || {
            format!("the row counts of {what}")
        })?;
        self.unify(&a.cols, &b.cols, span, || {
            format!("the column counts of {what}")
        })
    }

    fn is_scalar(&mut self, s: &ShapeT) -> bool {
        self.u.is_one(&s.rows) && self.u.is_one(&s.cols)
    }

    /// A note for a failure caused by a vector whose length would be 1.
    fn failure_note(&mut self, failure: Failure, d: Diagnostic) -> Diagnostic {
        let Failure::VectorOfOne(f) = failure else {
            return d;
        };
        let root = self.u.find(f);
        let owner = (0..self.vars.len()).find(|&i| {
            let rows = self.vars[i].shape.rows.clone();
            self.u.resolve(&rows).flex.contains(&root)
        });
        let len = self.flex_name(root);
        match owner {
            Some(i) => {
                let name = self.vars[i].name.clone();
                d.with_note(format!(
                    "{name} is a vector of length {len}, which is not taken to be 1; \
                     declare `{name} : scalar` if it is a scalar"
                ))
            }
            None => d.with_note(format!("the vector length {len} is not taken to be 1")),
        }
    }

    // --- declarations and bindings ------------------------------------------------------

    fn first_span(&self, entry: Entry) -> Span {
        match entry {
            Entry::Var(i) => self.vars[i].span,
            Entry::Func(i) => self.funcs[i].span,
            Entry::Bind(i) => self.binds[i].span,
        }
    }

    fn declare(&mut self, d: &Declaration) -> Result<()> {
        for name in &d.names {
            if let Some(&entry) = self.names.get(&name.name) {
                return Err(Diagnostic::new(
                    format!("`{}` is declared twice", name.name),
                    name.span,
                )
                .with_label("declared again here")
                .with_secondary(self.first_span(entry), "first declared here"));
            }
            if Builtin::from_name(&name.name).is_some() {
                return Err(Diagnostic::new(
                    format!(
                        "`{}` is a built-in function and cannot be declared",
                        name.name
                    ),
                    name.span,
                )
                .with_label("built-in name")
                .with_note("choose another name"));
            }
            let entry = match &d.ty.kind {
                TypeKind::Elementwise | TypeKind::ScalarValued => {
                    let kind = if d.ty.kind == TypeKind::Elementwise {
                        FunctionKind::Elementwise
                    } else {
                        FunctionKind::ScalarValued
                    };
                    self.funcs.push(Function {
                        name: name.name.clone(),
                        kind,
                        span: name.span,
                    });
                    Entry::Func(self.funcs.len() - 1)
                }
                TypeKind::Scalar { complex } => {
                    self.new_var(name, ShapeT::scalar(), Kind::Scalar, *complex)
                }
                TypeKind::Vector { complex, len } => {
                    let rows = match len {
                        Some(spec) => dim_of_spec(spec),
                        None => self.u.fresh(false),
                    };
                    let shape = ShapeT::new(rows, Mono::lit(1));
                    self.new_var(name, shape, Kind::Vector, *complex)
                }
                TypeKind::Matrix { complex, dims } => {
                    let shape = match dims {
                        Some((r, c)) => ShapeT::new(dim_of_spec(r), dim_of_spec(c)),
                        None => ShapeT::new(self.u.fresh(true), self.u.fresh(true)),
                    };
                    self.new_var(name, shape, Kind::Matrix, *complex)
                }
            };
            self.names.insert(name.name.clone(), entry);
        }
        Ok(())
    }

    fn new_var(&mut self, name: &Ident, shape: ShapeT, kind: Kind, complex: bool) -> Entry {
        self.vars.push(VarInfo {
            name: name.name.clone(),
            shape,
            kind,
            complex,
            span: name.span,
        });
        Entry::Var(self.vars.len() - 1)
    }

    fn bind(&mut self, b: &Binding, statement: usize) -> Result<()> {
        let name = &b.name;
        let reserved = Builtin::from_name(&name.name).is_some()
            || (matches!(name.name.as_str(), "I" | "ones") && !self.names.contains_key(&name.name));
        if reserved {
            return Err(Diagnostic::new(
                format!("`{}` is built in and cannot be bound", name.name),
                name.span,
            )
            .with_label("built-in name")
            .with_note("choose another name"));
        }
        if let Some(&entry) = self.names.get(&name.name) {
            return Err(self.already(name, entry, "bound"));
        }
        let shape = self.check(&b.value)?;
        if let Some(&entry) = self.names.get(&name.name) {
            // The binding's own value used the name (`h = h + 1`).
            return Err(self.already(name, entry, "bound"));
        }
        self.binds.push(BindInfo {
            name: name.name.clone(),
            span: name.span,
            shape,
            statement,
        });
        self.names
            .insert(name.name.clone(), Entry::Bind(self.binds.len() - 1));
        Ok(())
    }

    /// `x` cannot be bound (or …): it already is something else.
    fn already(&self, name: &Ident, entry: Entry, verb: &str) -> Diagnostic {
        let (what, label) = match entry {
            Entry::Var(_) => ("a variable", "declared or first used here"),
            Entry::Func(_) => ("a function", "declared or first used here"),
            Entry::Bind(_) => ("already bound", "first bound here"),
        };
        let message = if matches!(entry, Entry::Bind(_)) {
            format!("`{}` is bound twice", name.name)
        } else {
            format!("`{}` is {what} and cannot also be {verb}", name.name)
        };
        Diagnostic::new(message, name.span)
            .with_label(format!("{verb} here"))
            .with_secondary(self.first_span(entry), label)
    }

    // --- expressions --------------------------------------------------------------------

    fn check(&mut self, e: &Expr) -> Result<ShapeT> {
        let shape = self.check_kind(e)?;
        if let Some(slot) = self.shapes.get_mut(e.id) {
            *slot = Some(shape.clone());
        }
        Ok(shape)
    }

    fn resolve_as(&mut self, e: &Expr, r: Resolution) {
        if let Some(slot) = self.res.get_mut(e.id) {
            *slot = Some(r);
        }
    }

    fn check_kind(&mut self, e: &Expr) -> Result<ShapeT> {
        match &e.kind {
            ExprKind::Number(_) => Ok(ShapeT::scalar()),
            ExprKind::Name(name) => self.name(e, name),
            ExprKind::Call { callee, args } => self.call(e, callee, args),
            ExprKind::Derivative {
                callee,
                order: _,
                args,
            } => self.derivative(e, callee, args),
            ExprKind::Gradient { callee, args } => self.gradient(e, callee, args, false),
            ExprKind::Hessian { callee, args } => self.gradient(e, callee, args, true),
            ExprKind::Neg { operand, .. } => self.check(operand),
            ExprKind::Postfix {
                op,
                op_span,
                operand,
            } => self.postfix(e, op, *op_span, operand),
            ExprKind::Binary {
                op,
                op_span,
                lhs,
                rhs,
            } => self.binary(e, *op, *op_span, lhs, rhs),
        }
    }

    fn name(&mut self, e: &Expr, name: &str) -> Result<ShapeT> {
        match self.names.get(name).copied() {
            Some(Entry::Var(i)) => {
                self.resolve_as(e, Resolution::Variable(i));
                Ok(self.vars[i].shape.clone())
            }
            Some(Entry::Bind(i)) => {
                self.resolve_as(e, Resolution::Binding(i));
                Ok(self.binds[i].shape.clone())
            }
            Some(Entry::Func(i)) => Err(Diagnostic::new(
                format!("`{name}` is a function and must be called, as in `{name}(…)`"),
                e.span,
            )
            .with_label("used as a value")
            .with_secondary(
                self.funcs[i].span,
                "declared or first used as a function here",
            )),
            None => match name {
                "I" => {
                    let n = self.u.fresh(true);
                    let shape = ShapeT::new(n.clone(), n);
                    self.fills.push(Fill {
                        name: "I",
                        span: e.span,
                        shape: shape.clone(),
                    });
                    self.resolve_as(e, Resolution::Identity);
                    Ok(shape)
                }
                "ones" => {
                    let shape = ShapeT::new(self.u.fresh(true), self.u.fresh(true));
                    self.fills.push(Fill {
                        name: "ones",
                        span: e.span,
                        shape: shape.clone(),
                    });
                    self.resolve_as(e, Resolution::Ones);
                    Ok(shape)
                }
                _ if Builtin::from_name(name).is_some() => Err(Diagnostic::new(
                    format!(
                        "`{name}` is a built-in function and must be called, as in `{name}(…)`"
                    ),
                    e.span,
                )
                .with_label("used as a value")),
                _ => {
                    let first = name.chars().next().unwrap_or('x');
                    let (shape, kind) = if first.is_ascii_uppercase() {
                        let s = ShapeT::new(self.u.fresh(true), self.u.fresh(true));
                        (s, Kind::Matrix)
                    } else if first.is_ascii_lowercase() {
                        (ShapeT::new(self.u.fresh(false), Mono::lit(1)), Kind::Vector)
                    } else {
                        (ShapeT::scalar(), Kind::Scalar)
                    };
                    let ident = Ident {
                        name: name.to_string(),
                        span: e.span,
                    };
                    let entry = self.new_var(&ident, shape.clone(), kind, false);
                    self.names.insert(name.to_string(), entry);
                    if let Entry::Var(i) = entry {
                        self.resolve_as(e, Resolution::Variable(i));
                    }
                    Ok(shape)
                }
            },
        }
    }

    /// A generic function met for the first time in a call; an undeclared name close to
    /// a built-in (`sigmod`) is refused as a probable misspelling.
    fn new_function(&mut self, callee: &Ident, kind: FunctionKind) -> Result<usize> {
        if matches!(callee.name.as_str(), "mean" | "avg" | "var" | "std") {
            // Statistics over the entries are not built in: a generic `mean` would be
            // read element-wise, which is never what is meant.
            return Err(Diagnostic::new(
                format!("`{}` is not a built-in function", callee.name),
                callee.span,
            )
            .with_label("not built in")
            .with_note(format!(
                "the entries of a value are summed with `sum(…)`: differentiate the sum and \
                 divide by the number of entries; to use `{0}` as a generic function, \
                 declare it: `{0} : elementwise` or `{0} : scalar-valued`",
                callee.name
            )));
        }
        if let Some(b) = near_builtin(&callee.name) {
            let (ty, written) = match kind {
                FunctionKind::Elementwise => ("elementwise", "element-wise"),
                FunctionKind::ScalarValued => ("scalar-valued", "scalar-valued"),
            };
            let suggestion = if b == "ᵀ" {
                "the transpose is written `xᵀ`, `x'` or `x^T`".to_string()
            } else {
                format!("did you mean `{b}`?")
            };
            return Err(Diagnostic::new(
                format!("unknown function `{}`: {suggestion}", callee.name),
                callee.span,
            )
            .with_label("not a built-in function")
            .with_note(format!(
                "to use `{name}` as a generic {written} function, declare it: `{name} : {ty}`",
                name = callee.name
            )));
        }
        self.funcs.push(Function {
            name: callee.name.clone(),
            kind,
            span: callee.span,
        });
        let i = self.funcs.len() - 1;
        self.names.insert(callee.name.clone(), Entry::Func(i));
        Ok(i)
    }

    /// `x(…)` where `x` is a variable or a binding.
    fn not_callable(&self, callee: &Ident, entry: Entry, how: &str) -> Diagnostic {
        let what = match entry {
            Entry::Bind(_) => "a binding",
            _ => "a variable",
        };
        Diagnostic::new(
            format!("`{}` is {what}, not a function", callee.name),
            callee.span,
        )
        .with_label(format!("{how} here"))
        .with_secondary(self.first_span(entry), "declared or first used here")
        .with_note(format!(
            "a name directly followed by `(` is a call; for a product put a space: `{} (…)`",
            self.text(callee.span)
        ))
    }

    fn constant_not_callable(&self, callee: &Ident) -> Diagnostic {
        let what = if callee.name == "I" {
            "the identity matrix"
        } else {
            "a matrix of ones"
        };
        Diagnostic::new(
            format!("`{}` is {what}, not a function", callee.name),
            callee.span,
        )
        .with_label("called here")
        .with_note(format!(
            "for a product put a space: `{} (…)`; to use `{}` as a function, declare it \
             (`{} : scalar-valued`)",
            callee.name, callee.name, callee.name
        ))
    }

    fn arity(&self, e: &Expr, callee: &Ident, args: &[Expr], want: usize) -> Result<()> {
        if args.len() == want {
            return Ok(());
        }
        let plural = if want == 1 { "argument" } else { "arguments" };
        let span = args.get(want).map_or(e.span, |extra| extra.span);
        let label = if args.len() > want {
            "unexpected argument"
        } else {
            "missing argument"
        };
        let note = match callee.name.as_str() {
            "norm" if args.len() == 2 => Some(
                "`norm(x)` is the 2-norm (Frobenius for a matrix); `norm1(x)` is the sum of \
                 absolute values",
            ),
            _ => None,
        };
        let d = Diagnostic::new(
            format!(
                "`{}` takes {want} {plural} but {} {} given",
                callee.name,
                args.len(),
                if args.len() == 1 { "was" } else { "were" }
            ),
            span,
        )
        .with_label(label);
        Err(match note {
            Some(n) => d.with_note(n),
            None => d,
        })
    }

    fn call(&mut self, e: &Expr, callee: &Ident, args: &[Expr]) -> Result<ShapeT> {
        let (res, want) = match self.names.get(&callee.name).copied() {
            Some(Entry::Func(i)) => (Resolution::Generic(i), 1),
            Some(entry) => return Err(self.not_callable(callee, entry, "called")),
            None => match Builtin::from_name(&callee.name) {
                Some(Builtin::Grad) if args.len() == 3 => (Resolution::Builtin(Builtin::Grad), 3),
                Some(b) => (Resolution::Builtin(b), b.arity()),
                None if matches!(callee.name.as_str(), "I" | "ones") => {
                    return Err(self.constant_not_callable(callee))
                }
                None => {
                    let upper = callee.name.chars().next().is_some_and(char::is_uppercase);
                    let kind = if upper {
                        FunctionKind::ScalarValued
                    } else {
                        FunctionKind::Elementwise
                    };
                    (Resolution::Generic(self.new_function(callee, kind)?), 1)
                }
            },
        };
        self.resolve_as(e, res);
        self.arity(e, callee, args, want)?;
        let mut shapes = vec![];
        for a in args {
            shapes.push(self.check(a)?);
        }
        let (a, sa) = (&args[0], shapes[0].clone());
        match res {
            Resolution::Generic(i) => Ok(match self.funcs[i].kind {
                FunctionKind::Elementwise => sa,
                FunctionKind::ScalarValued => ShapeT::scalar(),
            }),
            Resolution::Builtin(b) => self.builtin(e, callee, b, a, sa, args, &shapes),
            _ => Ok(sa),
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn builtin(
        &mut self,
        e: &Expr,
        callee: &Ident,
        b: Builtin,
        a: &Expr,
        sa: ShapeT,
        args: &[Expr],
        shapes: &[ShapeT],
    ) -> Result<ShapeT> {
        let f = callee.name.as_str();
        match b {
            Builtin::Elementwise(_) | Builtin::Conj | Builtin::Real | Builtin::Imag => Ok(sa),
            Builtin::Sum | Builtin::Norm | Builtin::Norm1 => Ok(ShapeT::scalar()),
            Builtin::Trace | Builtin::Det | Builtin::LogDet => {
                self.square(e, f, a, &sa)?;
                Ok(ShapeT::scalar())
            }
            Builtin::Inv => {
                self.square(e, f, a, &sa)?;
                Ok(sa)
            }
            Builtin::LogSumExp => {
                self.vector(e, f, a, &sa)?;
                Ok(ShapeT::scalar())
            }
            Builtin::Softmax => {
                self.vector(e, f, a, &sa)?;
                Ok(sa)
            }
            Builtin::Diag => {
                if self.u.is_one(&sa.cols) {
                    Ok(ShapeT::new(sa.rows.clone(), sa.rows))
                } else {
                    self.square(e, f, a, &sa)?;
                    Ok(ShapeT::new(sa.rows, Mono::lit(1)))
                }
            }
            Builtin::Vec => Ok(ShapeT::new(sa.rows.times(&sa.cols), Mono::lit(1))),
            Builtin::Commutation => {
                let n = sa.rows.times(&sa.cols);
                Ok(ShapeT::new(n.clone(), n))
            }
            Builtin::Outer => {
                let (bx, sb) = (&args[1], shapes[1].transposed());
                self.product(e, e.span, a, &sa, bx, &sb, "outer")
            }
            Builtin::Grad => self.grad(e, args, shapes),
        }
    }

    /// `grad(e, X)` (e 1×1) or `grad(E, X, G)` (G shaped like E, or 1×1): shaped like
    /// the variable X.
    fn grad(&mut self, e: &Expr, args: &[Expr], shapes: &[ShapeT]) -> Result<ShapeT> {
        let (a, x) = (&args[0], &args[1]);
        let var = match (&x.kind, self.res.get(x.id).copied().flatten()) {
            (ExprKind::Name(_), Some(Resolution::Variable(i))) => i,
            _ => {
                return Err(Diagnostic::new(
                    format!(
                        "{}: grad differentiates with respect to a variable, and {} is not one",
                        self.text(e.span),
                        self.text(x.span)
                    ),
                    x.span,
                )
                .with_label("not a variable"))
            }
        };
        let sa = shapes[0].clone();
        match args.get(2) {
            None => {
                let ta = self.text(a.span);
                let what = || format!("the shape of {ta} and 1×1");
                let one = ShapeT::scalar();
                let outcome = self
                    .unify(&sa.rows, &one.rows, a.span, what)
                    .and_then(|()| {
                        self.unify(&sa.cols, &one.cols, a.span, || {
                            format!("the column count of {ta} and 1")
                        })
                    });
                if let Err(failure) = outcome {
                    let s = self.show(&sa);
                    let d = Diagnostic::new(
                        format!(
                            "{}: grad(e, X) needs a scalar e, but {ta} is {s}",
                            self.text(e.span)
                        ),
                        a.span,
                    )
                    .with_label("not 1×1")
                    .with_note("grad(E, X, G) is the gradient of sum(G ∘ E) for an E of any shape");
                    return Err(self.failure_note(failure, d));
                }
            }
            Some(g) => {
                let sg = shapes[2].clone();
                if !self.is_scalar(&sg) {
                    let what = format!("{} and {}", self.text(g.span), self.text(a.span));
                    if let Err(failure) = self.unify_shapes(&sg, &sa, g.span, &what) {
                        let (tg, ta) = (self.text(g.span), self.text(a.span));
                        let (s1, s2) = (self.show(&sg), self.show(&sa));
                        let d = Diagnostic::new(
                            format!(
                                "{}: the weight {tg} ({s1}) must have the shape of {ta} ({s2})",
                                self.text(e.span)
                            ),
                            g.span,
                        )
                        .with_label("shape differs");
                        return Err(self.failure_note(failure, d));
                    }
                }
            }
        }
        Ok(self.vars[var].shape.clone())
    }

    fn square(&mut self, e: &Expr, f: &str, a: &Expr, sa: &ShapeT) -> Result<()> {
        let ta = self.text(a.span);
        let what = || format!("the row and column counts of {ta}");
        match self.unify(&sa.rows, &sa.cols, a.span, what) {
            Ok(()) => Ok(()),
            Err(failure) => {
                let (ta, s) = (self.text(a.span), self.show(sa));
                let d = Diagnostic::new(
                    format!(
                        "{}: {f} needs a square matrix, but {ta} is {s}",
                        self.text(e.span)
                    ),
                    a.span,
                )
                .with_label("not square");
                Err(self.failure_note(failure, d))
            }
        }
    }

    fn vector(&mut self, e: &Expr, f: &str, a: &Expr, sa: &ShapeT) -> Result<()> {
        let ta = self.text(a.span);
        let what = || format!("the column count of {ta} and 1");
        if let Err(failure) = self.unify(&sa.cols, &Mono::lit(1), a.span, what) {
            let (ta, s) = (self.text(a.span), self.show(sa));
            let d = Diagnostic::new(
                format!("{}: {f} needs a vector, but {ta} is {s}", self.text(e.span)),
                a.span,
            )
            .with_label("not a column vector");
            return Err(self.failure_note(failure, d));
        }
        Ok(())
    }

    fn derivative(&mut self, e: &Expr, callee: &Ident, args: &[Expr]) -> Result<ShapeT> {
        let name = &callee.name;
        let res = match self.names.get(name).copied() {
            Some(Entry::Func(i)) => {
                if self.funcs[i].kind == FunctionKind::ScalarValued {
                    return Err(Diagnostic::new(
                        format!("`{name}` is scalar-valued: its derivative is the gradient `∇{name}(…)`"),
                        callee.span,
                    )
                    .with_label("derivative of a scalar-valued function")
                    .with_secondary(self.funcs[i].span, "declared or first used here"));
                }
                Resolution::Generic(i)
            }
            Some(entry) => {
                return Err(self
                    .not_callable(callee, entry, "differentiated")
                    .with_note(format!(
                        "`{name}'(…)` is always a derivative call; for a transpose times (…) \
                         write `{name}' (…)`"
                    )))
            }
            None => match Builtin::from_name(name) {
                Some(b @ Builtin::Elementwise(_)) => Resolution::Builtin(b),
                Some(_) => {
                    return Err(Diagnostic::new(
                        format!("`{name}` is not element-wise: `{name}'(…)` is not defined"),
                        callee.span,
                    )
                    .with_label("only element-wise functions have a derivative call"))
                }
                None if matches!(name.as_str(), "I" | "ones") => {
                    return Err(self.constant_not_callable(callee))
                }
                None => Resolution::Generic(self.new_function(callee, FunctionKind::Elementwise)?),
            },
        };
        self.resolve_as(e, res);
        self.arity(e, callee, args, 1)?;
        self.check(&args[0])
    }

    /// `∇L(u)`, or `∇²L(u)` when `hessian`: L scalar-valued; the Hessian needs a column u
    /// (n×1) and is n×n.
    fn gradient(
        &mut self,
        e: &Expr,
        callee: &Ident,
        args: &[Expr],
        hessian: bool,
    ) -> Result<ShapeT> {
        let name = &callee.name;
        let nabla = if hessian { "∇²" } else { "∇" };
        let res = match self.names.get(name).copied() {
            Some(Entry::Func(i)) => {
                if self.funcs[i].kind == FunctionKind::Elementwise {
                    let own = if hessian {
                        format!("its derivatives are `{name}'(…)` and `{name}''(…)`")
                    } else {
                        format!("its derivative is `{name}'(…)`")
                    };
                    return Err(Diagnostic::new(
                        format!("`{name}` is element-wise: {own}, not `{nabla}{name}(…)`"),
                        callee.span,
                    )
                    .with_label(format!("{nabla} needs a scalar-valued function"))
                    .with_secondary(self.funcs[i].span, "declared or first used here"));
                }
                Resolution::Generic(i)
            }
            Some(entry) => return Err(self.not_callable(callee, entry, "differentiated")),
            None if Builtin::from_name(name).is_some() => {
                return Err(Diagnostic::new(
                    format!(
                        "`{nabla}{name}(…)` is not defined: {nabla} applies to generic \
                         scalar-valued functions"
                    ),
                    callee.span,
                )
                .with_label("built-in function"))
            }
            None if matches!(name.as_str(), "I" | "ones") => {
                return Err(self.constant_not_callable(callee))
            }
            None => Resolution::Generic(self.new_function(callee, FunctionKind::ScalarValued)?),
        };
        self.resolve_as(e, res);
        self.arity(e, callee, args, 1)?;
        let a = &args[0];
        let sa = self.check(a)?;
        if !hessian {
            return Ok(sa);
        }
        let ta = self.text(a.span);
        let what = || format!("the column count of {ta} and 1");
        if let Err(failure) = self.unify(&sa.cols, &Mono::lit(1), a.span, what) {
            let (ta, s) = (self.text(a.span), self.show(&sa));
            let d = Diagnostic::new(
                format!(
                    "{}: the Hessian of a generic function is only available at a vector, \
                     but {ta} is {s}",
                    self.text(e.span)
                ),
                a.span,
            )
            .with_label("not a column vector")
            .with_note(format!("`∇²{name}(u)` needs a column u (n×1) and is n×n"));
            return Err(self.failure_note(failure, d));
        }
        Ok(ShapeT::new(sa.rows.clone(), sa.rows))
    }

    fn postfix(&mut self, e: &Expr, op: &PostfixOp, op_span: Span, a: &Expr) -> Result<ShapeT> {
        let sa = self.check(a)?;
        match op {
            PostfixOp::Transpose | PostfixOp::Adjoint => Ok(sa.transposed()),
            PostfixOp::Inverse | PostfixOp::InverseTranspose => {
                let ta = self.text(a.span);
                let what = || format!("the row and column counts of {ta}");
                if let Err(failure) = self.unify(&sa.rows, &sa.cols, op_span, what) {
                    let (ta, s) = (self.text(a.span), self.show(&sa));
                    let d = Diagnostic::new(
                        format!(
                            "{}: cannot invert {ta} ({s}): it is not square",
                            self.text(e.span)
                        ),
                        op_span,
                    )
                    .with_label("inverse of a non-square matrix");
                    return Err(self.failure_note(failure, d));
                }
                Ok(if matches!(op, PostfixOp::InverseTranspose) {
                    sa.transposed()
                } else {
                    sa
                })
            }
            PostfixOp::Power(k) => {
                self.exponent(e, k)?;
                if self.is_scalar(&sa) {
                    return Ok(sa);
                }
                let (whole, ta, tk) = (self.text(e.span), self.text(a.span), self.text(k.span));
                let integer = k.literal_value().is_some_and(|v| v.fract() == 0.0);
                if !integer {
                    let s = self.show(&sa);
                    return Err(Diagnostic::new(
                        format!(
                            "{whole}: a power of the matrix {ta} ({s}) needs an integer literal exponent, not {tk}"
                        ),
                        k.span,
                    )
                    .with_label("not an integer literal")
                    .with_note(format!(
                        "a real exponent needs a scalar base; for the element-wise power write `{ta}.^{tk}`"
                    )));
                }
                let ta = self.text(a.span);
                let what = || format!("the row and column counts of {ta}");
                if let Err(failure) = self.unify(&sa.rows, &sa.cols, op_span, what) {
                    let s = self.show(&sa);
                    let d = Diagnostic::new(
                        format!("{whole}: cannot raise {ta} ({s}) to a power: it is not square"),
                        op_span,
                    )
                    .with_label("power of a non-square matrix")
                    .with_note(format!("for the element-wise power write `{ta}.^{tk}`"));
                    return Err(self.failure_note(failure, d));
                }
                Ok(sa)
            }
            PostfixOp::ElementwisePower(k) => {
                self.exponent(e, k)?;
                Ok(sa)
            }
        }
    }

    /// An exponent must be a scalar.
    fn exponent(&mut self, e: &Expr, k: &Expr) -> Result<()> {
        let sk = self.check(k)?;
        if let Err(failure) = self.unify_shapes(&sk, &ShapeT::scalar(), k.span, "an exponent") {
            let (tk, s) = (self.text(k.span), self.show(&sk));
            let d = Diagnostic::new(
                format!(
                    "{}: the exponent {tk} ({s}) is not a scalar",
                    self.text(e.span)
                ),
                k.span,
            )
            .with_label("exponents are scalars");
            let base = match &e.kind {
                ExprKind::Postfix { operand, .. } => self.text(operand.span),
                _ => String::new(),
            };
            let d = if base == "e" {
                d.with_note(format!("for the exponential write `exp({tk})`"))
            } else {
                d
            };
            return Err(self.failure_note(failure, d));
        }
        Ok(())
    }

    fn binary(
        &mut self,
        e: &Expr,
        op: BinaryOp,
        op_span: Span,
        a: &Expr,
        b: &Expr,
    ) -> Result<ShapeT> {
        let sa = self.check(a)?;
        let sb = self.check(b)?;
        // The place of an error: the operator, or the whole product for juxtaposition.
        let span = if op == BinaryOp::Juxtapose {
            e.span
        } else {
            op_span
        };
        match op {
            BinaryOp::Add | BinaryOp::Sub | BinaryOp::Hadamard | BinaryOp::EDiv => {
                self.broadcast(e, span, op, a, &sa, b, &sb)
            }
            BinaryOp::Mul | BinaryOp::Juxtapose => {
                self.product(e, span, a, &sa, b, &sb, "multiply")
            }
            BinaryOp::Div => {
                let scalar = ShapeT::scalar();
                let divisor = format!("the divisor {} and 1", self.text(b.span));
                if let Err(failure) = self.unify_shapes(&sb, &scalar, span, &divisor) {
                    let (ta, tb) = (self.text(a.span), self.text(b.span));
                    let (s1, s2) = (self.show(&sa), self.show(&sb));
                    let d = Diagnostic::new(
                        format!(
                            "{}: cannot divide {ta} ({s1}) by {tb} ({s2})",
                            self.text(e.span)
                        ),
                        span,
                    )
                    .with_label("the divisor must be a scalar")
                    .with_note(format!(
                        "for element-wise division write `{ta} ⊘ {tb}` (or `./`)"
                    ));
                    return Err(self.failure_note(failure, d));
                }
                Ok(sa)
            }
            BinaryOp::Kron => Ok(ShapeT::new(
                sa.rows.times(&sb.rows),
                sa.cols.times(&sb.cols),
            )),
        }
    }

    /// `+ - ∘ ⊘`: equal shapes, or a scalar operand applied to every entry.
    #[allow(clippy::too_many_arguments)]
    fn broadcast(
        &mut self,
        e: &Expr,
        span: Span,
        op: BinaryOp,
        a: &Expr,
        sa: &ShapeT,
        b: &Expr,
        sb: &ShapeT,
    ) -> Result<ShapeT> {
        if self.is_scalar(sa) {
            return Ok(sb.clone());
        }
        if self.is_scalar(sb) {
            return Ok(sa.clone());
        }
        let both = format!("{} and {}", self.text(a.span), self.text(b.span));
        if let Err(failure) = self.unify_shapes(sa, sb, span, &both) {
            let (ta, tb) = (self.text(a.span), self.text(b.span));
            let (s1, s2) = (self.show(sa), self.show(sb));
            let what = match op {
                BinaryOp::Add => format!("cannot add {ta} ({s1}) and {tb} ({s2})"),
                BinaryOp::Sub => format!("cannot subtract {tb} ({s2}) from {ta} ({s1})"),
                BinaryOp::Hadamard => {
                    format!("cannot take the element-wise product of {ta} ({s1}) and {tb} ({s2})")
                }
                _ => format!("cannot divide {ta} ({s1}) element-wise by {tb} ({s2})"),
            };
            let mut d = Diagnostic::new(format!("{}: {what}", self.text(e.span)), span)
                .with_label("the shapes differ");
            if s1 == self.show(&sb.transposed()) {
                d = d.with_note(format!("{tb} has the shape of {ta} transposed"));
            }
            return Err(self.failure_note(failure, d));
        }
        Ok(sa.clone())
    }

    /// `a b`: a scalar operand scales, otherwise cols(a) = rows(b).
    #[allow(clippy::too_many_arguments)]
    fn product(
        &mut self,
        e: &Expr,
        span: Span,
        a: &Expr,
        sa: &ShapeT,
        b: &Expr,
        sb: &ShapeT,
        verb: &str,
    ) -> Result<ShapeT> {
        if self.is_scalar(sa) {
            return Ok(sb.clone());
        }
        if self.is_scalar(sb) {
            return Ok(sa.clone());
        }
        let (ta, tb) = (self.text(a.span), self.text(b.span));
        let what = || format!("the columns of {ta} and the rows of {tb}");
        if let Err(failure) = self.unify(&sa.cols, &sb.rows, span, what) {
            let (ta, tb) = (self.text(a.span), self.text(b.span));
            let (s1, s2) = (self.show(sa), self.show(sb));
            let (c, r) = (self.show_dim(&sa.cols), self.show_dim(&sb.rows));
            let message = if verb == "outer" {
                format!(
                    "{}: cannot form the outer product of {ta} ({s1}) and {tb} ({})",
                    self.text(e.span),
                    self.show(&sb.transposed())
                )
            } else {
                format!(
                    "{}: cannot multiply {ta} ({s1}) by {tb} ({s2})",
                    self.text(e.span)
                )
            };
            let columns = if c == "1" { "column" } else { "columns" };
            let rows = if r == "1" { "row" } else { "rows" };
            let mut d = Diagnostic::new(message, span)
                .with_label(format!("{ta} has {c} {columns} but {tb} has {r} {rows}"));
            if verb != "outer" && self.show_dim(&sa.rows) == r {
                d = d.with_note(format!("did you mean {ta}ᵀ {tb}?"));
            }
            return Err(self.failure_note(failure, d));
        }
        Ok(ShapeT::new(sa.rows.clone(), sb.cols.clone()))
    }

    // --- the end ------------------------------------------------------------------------

    fn finish(mut self, program: &Program, expr_index: usize) -> Result<Analysis> {
        // Constraints that could not be decided when met may be decidable now.
        loop {
            let before = self.pending.len();
            let pending = std::mem::take(&mut self.pending);
            for p in pending {
                match self.u.unify(&p.a, &p.b) {
                    Ok(true) => {}
                    Ok(false) => self.pending.push(p),
                    Err(_) => {
                        let (a, b) = (self.show_dim(&p.a), self.show_dim(&p.b));
                        return Err(Diagnostic::new(
                            format!("the sizes {a} and {b} differ: {}", p.what),
                            p.span,
                        ));
                    }
                }
            }
            if self.pending.len() == before {
                break;
            }
        }

        // Every `I` and `ones` must get its size from a variable, except that `ones` is a
        // column vector when nothing fixes its column count (`onesᵀ x`).
        let mut fixed: HashSet<usize> = HashSet::new();
        for i in 0..self.vars.len() {
            let s = self.vars[i].shape.clone();
            for m in [&s.rows, &s.cols] {
                fixed.extend(self.u.resolve(m).flex);
            }
        }
        // Unknowns that are not only column counts of `ones`: the sizes of `I` and the row
        // counts of `ones` (`I + ones` and `ones ones` are not vectors).
        let mut blocked: HashSet<usize> = HashSet::new();
        for fill in &self.fills {
            blocked.extend(self.u.resolve(&fill.shape.rows).flex);
            if fill.name == "I" {
                blocked.extend(self.u.resolve(&fill.shape.cols).flex);
            }
        }
        for fill in self.fills.clone() {
            let cols = self.u.resolve(&fill.shape.cols);
            if let (Some(f), "ones") = (cols.single_flex(), fill.name) {
                // A column count that only `ones` have, however many share it
                // (`c = Xᵀ ones; X - ones cᵀ`), is 1: the textbook vector 𝟏.
                if !fixed.contains(&f) && !blocked.contains(&f) {
                    // A free unknown with `can_be_one` (from `ones` itself) accepts 1.
                    let _ = self.u.unify(&cols, &Mono::lit(1));
                }
            }
        }
        for fill in self.fills.clone() {
            let free = [&fill.shape.rows, &fill.shape.cols]
                .into_iter()
                .any(|m| self.u.resolve(m).flex.iter().any(|f| !fixed.contains(f)));
            if free {
                let what = if fill.name == "I" {
                    "identity matrix"
                } else {
                    "matrix of ones"
                };
                return Err(Diagnostic::new(
                    format!("the size of `{}` is not fixed by its use", fill.name),
                    fill.span,
                )
                .with_label(format!("nothing determines the size of this {what}"))
                .with_note(format!(
                    "use it where another operand fixes its size, as in `A + {0}` or `{0} x`",
                    fill.name
                )));
            }
        }

        // Fresh names, in the order of the variables.
        let order = sorted_by_span(&self.vars, |v| v.span);
        for &i in &order {
            let s = self.vars[i].shape.clone();
            self.shape(&s);
        }
        if let Some(p) = self.pending.first().cloned() {
            let (a, b) = (self.show_dim(&p.a), self.show_dim(&p.b));
            return Err(Diagnostic::new(
                format!(
                    "cannot infer the sizes: {} must be equal ({a} = {b})",
                    p.what
                ),
                p.span,
            )
            .with_label("these sizes are not determined")
            .with_note("declare the types of the variables involved"));
        }

        // Variables and functions in declaration / first-use order.
        let mut var_index = vec![0; self.vars.len()];
        for (new, &old) in order.iter().enumerate() {
            var_index[old] = new;
        }
        let mut variables = vec![];
        for &i in &order {
            let v = self.vars[i].clone();
            variables.push(Variable {
                name: v.name,
                shape: self.shape(&v.shape),
                kind: v.kind,
                complex: v.complex,
                span: v.span,
            });
        }
        let forder = sorted_by_span(&self.funcs, |f| f.span);
        let mut func_index = vec![0; self.funcs.len()];
        for (new, &old) in forder.iter().enumerate() {
            func_index[old] = new;
        }
        let functions: Vec<Function> = forder.iter().map(|&i| self.funcs[i].clone()).collect();

        let resolutions: Vec<Option<Resolution>> = self
            .res
            .iter()
            .map(|r| {
                r.map(|r| match r {
                    Resolution::Variable(i) => Resolution::Variable(var_index[i]),
                    Resolution::Generic(i) => Resolution::Generic(func_index[i]),
                    other => other,
                })
            })
            .collect();
        let shapes: Vec<Option<Shape>> = self
            .shapes
            .clone()
            .iter()
            .map(|s| s.as_ref().map(|s| self.shape(s)))
            .collect();

        let mut dims: Vec<Symbol> = vec![];
        let mut seen: HashSet<Symbol> = HashSet::new();
        let all = variables
            .iter()
            .map(|v| &v.shape)
            .chain(shapes.iter().flatten());
        for s in all {
            for d in [&s.rows, &s.cols] {
                for sym in &d.syms {
                    if seen.insert(*sym) {
                        dims.push(*sym);
                    }
                }
            }
        }

        let mut analysis = Analysis {
            variables,
            functions,
            bindings: vec![],
            shapes,
            resolutions,
            dims,
            expr: expr_index,
            shape: Shape::scalar(),
            kind: Kind::Scalar,
        };
        let mut kinds = Kinds {
            a: &analysis,
            bindings: vec![],
        };
        let mut bindings = vec![];
        for b in self.binds.clone() {
            let Some(Statement::Binding(binding)) = program.statements.get(b.statement) else {
                continue;
            };
            let kind = kinds.of(&binding.value);
            kinds.bindings.push(kind);
            bindings.push(BoundName {
                name: b.name.clone(),
                span: b.span,
                shape: self.shape(&b.shape),
                kind: kind.kind(),
                statement: b.statement,
            });
        }
        let Some(Statement::Expr(e)) = program.statements.get(expr_index) else {
            return Err(Diagnostic::new(
                "the program has no expression",
                program.span,
            ));
        };
        let top = kinds.top(e);
        let shape = analysis.shapes.get(e.id).cloned().flatten();
        let shape = shape.ok_or_else(|| {
            Diagnostic::new("internal error: the expression has no shape", e.span)
        })?;
        analysis.bindings = bindings;
        analysis.kind = top;
        analysis.shape = shape;
        Ok(analysis)
    }
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
        ExprKind::Number(_) => {}
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

// ---------------------------------------------------------------------------------------
// Kinds

/// The kind of a value as users see it, before 1×1 values become scalars.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Vk {
    Scalar,
    /// A column vector built from vectors (`A x`, `x + y`, `σ(x)`).
    Col,
    /// A row vector built from vectors (`xᵀ A`).
    Row,
    Mat,
}

impl Vk {
    fn kind(self) -> Kind {
        match self {
            Vk::Scalar => Kind::Scalar,
            Vk::Col => Kind::Vector,
            Vk::Row | Vk::Mat => Kind::Matrix,
        }
    }

    fn transposed(self) -> Vk {
        match self {
            Vk::Col => Vk::Row,
            Vk::Row => Vk::Col,
            other => other,
        }
    }
}

struct Kinds<'a> {
    a: &'a Analysis,
    /// The kinds of the bindings checked so far.
    bindings: Vec<Vk>,
}

impl Kinds<'_> {
    fn shape(&self, e: &Expr) -> Option<&Shape> {
        self.a.shapes.get(e.id).and_then(Option::as_ref)
    }

    fn is_scalar(&self, e: &Expr) -> bool {
        self.shape(e).is_some_and(Shape::is_scalar)
    }

    /// The kind of the program's expression: a variable keeps its declared kind.
    fn top(&mut self, e: &Expr) -> Kind {
        if let (ExprKind::Name(_), Some(Some(Resolution::Variable(i)))) =
            (&e.kind, self.a.resolutions.get(e.id))
        {
            if let Some(v) = self.a.variables.get(*i) {
                return v.kind;
            }
        }
        self.of(e).kind()
    }

    fn of(&mut self, e: &Expr) -> Vk {
        let vk = self.raw(e);
        match self.shape(e) {
            Some(s) if s.is_scalar() && !matches!(e.kind, ExprKind::Name(_)) => Vk::Scalar,
            Some(s) if vk == Vk::Col && !s.cols.is_one() => Vk::Mat,
            Some(s) if vk == Vk::Row && !s.rows.is_one() => Vk::Mat,
            _ => vk,
        }
    }

    fn raw(&mut self, e: &Expr) -> Vk {
        let res = self.a.resolutions.get(e.id).copied().flatten();
        match &e.kind {
            ExprKind::Number(_) => Vk::Scalar,
            ExprKind::Name(_) => match res {
                Some(Resolution::Variable(i)) => match self.a.variables.get(i).map(|v| v.kind) {
                    Some(Kind::Scalar) => Vk::Scalar,
                    Some(Kind::Vector) => Vk::Col,
                    _ => Vk::Mat,
                },
                Some(Resolution::Binding(i)) => self.bindings.get(i).copied().unwrap_or(Vk::Mat),
                Some(Resolution::Ones) => match self.shape(e) {
                    Some(s) if s.cols.is_one() => Vk::Col,
                    _ => Vk::Mat,
                },
                _ => Vk::Mat,
            },
            ExprKind::Call { args, .. } => {
                let first = args.first().map(|a| self.of(a));
                let arg = first.unwrap_or(Vk::Mat);
                match res {
                    Some(Resolution::Generic(i)) => match self.a.functions.get(i).map(|f| f.kind) {
                        Some(FunctionKind::ScalarValued) => Vk::Scalar,
                        _ => arg,
                    },
                    Some(Resolution::Builtin(b)) => match b {
                        Builtin::Elementwise(_)
                        | Builtin::Inv
                        | Builtin::Softmax
                        | Builtin::Conj
                        | Builtin::Real
                        | Builtin::Imag => arg,
                        Builtin::Trace
                        | Builtin::Det
                        | Builtin::LogDet
                        | Builtin::Sum
                        | Builtin::Norm
                        | Builtin::Norm1
                        | Builtin::LogSumExp => Vk::Scalar,
                        Builtin::Diag => match args.first().and_then(|a| self.shape(a)) {
                            Some(s) if s.cols.is_one() => Vk::Mat,
                            _ => Vk::Col,
                        },
                        Builtin::Vec => Vk::Col,
                        Builtin::Commutation => Vk::Mat,
                        Builtin::Grad => args.get(1).map_or(Vk::Mat, |x| self.of(x)),
                        Builtin::Outer => {
                            let b = args.get(1).map_or(Vk::Mat, |b| self.of(b).transposed());
                            let (a0, b0) = (args.first(), args.get(1));
                            let scalar_a = a0.is_some_and(|x| self.is_scalar(x));
                            let scalar_b = b0.is_some_and(|x| self.is_scalar(x));
                            product_kind(arg, scalar_a, b, scalar_b)
                        }
                    },
                    _ => arg,
                }
            }
            ExprKind::Derivative { args, .. } | ExprKind::Gradient { args, .. } => {
                args.first().map_or(Vk::Mat, |a| self.of(a))
            }
            ExprKind::Hessian { .. } => Vk::Mat,
            ExprKind::Neg { operand, .. } => self.of(operand),
            ExprKind::Postfix { op, operand, .. } => {
                let a = self.of(operand);
                match op {
                    PostfixOp::Transpose | PostfixOp::Adjoint | PostfixOp::InverseTranspose => {
                        a.transposed()
                    }
                    _ => a,
                }
            }
            ExprKind::Binary { op, lhs, rhs, .. } => {
                let (a, b) = (self.of(lhs), self.of(rhs));
                let (sa, sb) = (self.is_scalar(lhs), self.is_scalar(rhs));
                match op {
                    BinaryOp::Mul | BinaryOp::Juxtapose => product_kind(a, sa, b, sb),
                    BinaryOp::Div => a,
                    _ if sa => b,
                    _ if sb => a,
                    _ if a == b => a,
                    _ => Vk::Mat,
                }
            }
        }
    }
}

/// The kind of `a b`: a scalar operand scales; `A x` is a vector, `xᵀ A` a row.
fn product_kind(a: Vk, a_scalar: bool, b: Vk, b_scalar: bool) -> Vk {
    if a_scalar {
        b
    } else if b_scalar {
        a
    } else if b == Vk::Col {
        Vk::Col
    } else if a == Vk::Row {
        Vk::Row
    } else {
        Vk::Mat
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
        for f in crate::lang::BUILTIN_ELEMENTWISE {
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
                "`commutation` takes 1 argument but 2 were given",
                "  |                ^ unexpected argument",
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
