//! The checked syntax tree → `egg::RecExpr<Math>`.
//!
//! Bindings are inlined: each binding is lowered once and every use refers to the same
//! node, and identical nodes are shared (hash-consing), so the output is a DAG whose size
//! is linear in the program even when bindings are used many times. The root is the last
//! node, as egg expects. Every dimension in a `Fill` is the final, named one.

use crate::check::shape::{Analysis, Builtin, FunctionKind, Resolution};
use crate::lang::dims::{Dim, Shape};
use crate::lang::{Fill, FillKind, Func, Math, Number};
use crate::syntax::ast::*;
use crate::syntax::diagnostic::Diagnostic;
use egg::{Id, Language, RecExpr, Symbol};
use std::collections::HashMap;

/// The lowered program.
#[derive(Debug, Clone)]
pub struct Lowered {
    /// The expression, bindings inlined.
    pub expr: RecExpr<Math>,
    /// Each binding's name and lowered value, in source order.
    pub bindings: Vec<(String, RecExpr<Math>)>,
}

type Result<T> = std::result::Result<T, Diagnostic>;

/// Lowers a program that [`crate::check::shape::analyze`] accepted.
pub fn lower(program: &Program, analysis: &Analysis) -> Result<Lowered> {
    let mut b = Builder {
        a: analysis,
        all: vec![],
        memo: HashMap::new(),
        bindings: vec![],
    };
    let mut bindings = vec![];
    for bound in &analysis.bindings {
        let Some(Statement::Binding(binding)) = program.statements.get(bound.statement) else {
            return Err(internal(bound.span));
        };
        let root = b.expr(&binding.value)?;
        b.bindings.push(root);
        bindings.push((bound.name.clone(), root));
    }
    let Some(Statement::Expr(e)) = program.statements.get(analysis.expr) else {
        return Err(internal(program.span));
    };
    let root = b.expr(e)?;
    Ok(Lowered {
        expr: extract(&b.all, root),
        bindings: bindings
            .into_iter()
            .map(|(name, id)| (name, extract(&b.all, id)))
            .collect(),
    })
}

fn internal(span: Span) -> Diagnostic {
    Diagnostic::new(
        "internal error: the checker and the lowering disagree",
        span,
    )
    .with_note("this is a bug in matdiff; please report it with this input")
}

struct Builder<'a> {
    a: &'a Analysis,
    /// The nodes of every binding and of the expression; children come first. (A plain
    /// vector: `RecExpr::add` finds its root in linear time.)
    all: Vec<Math>,
    memo: HashMap<Math, Id>,
    /// The root of each binding lowered so far.
    bindings: Vec<Id>,
}

impl Builder<'_> {
    fn add(&mut self, node: Math) -> Id {
        if let Some(&id) = self.memo.get(&node) {
            return id;
        }
        let id = Id::from(self.all.len());
        self.all.push(node.clone());
        self.memo.insert(node, id);
        id
    }

    /// `t1 + … + tn` as a balanced tree of `+` (n ≥ 1).
    fn balanced_sum(&mut self, terms: &[Id]) -> Id {
        match terms {
            [single] => *single,
            _ => {
                let (left, right) = terms.split_at(terms.len() / 2);
                let a = self.balanced_sum(left);
                let b = self.balanced_sum(right);
                self.add(Math::Add([a, b]))
            }
        }
    }

    fn func(&mut self, name: &str, order: u8) -> Id {
        self.add(Math::Func(Func {
            name: Symbol::from(name),
            order,
        }))
    }

    fn resolution(&self, e: &Expr) -> Result<Resolution> {
        self.a
            .resolutions
            .get(e.id)
            .copied()
            .flatten()
            .ok_or_else(|| internal(e.span))
    }

    fn fill(&mut self, e: &Expr, kind: FillKind) -> Result<Id> {
        let shape = self
            .a
            .shapes
            .get(e.id)
            .cloned()
            .flatten()
            .ok_or_else(|| internal(e.span))?;
        Ok(self.add(Math::Fill(Fill { kind, shape })))
    }

    /// The statistics of the entries of `arg` (lowered to `a`), with N its number of
    /// entries (a number, or `N[m,n]` for symbolic sizes): `mean(a) = sum(a) / N`,
    /// `var(a) = mean((a - mean(a)).^2)`, `std(a) = sqrt(var(a))`.
    fn statistic(&mut self, b: Builtin, arg: &Expr, a: Id) -> Result<Id> {
        let shape = self
            .a
            .shapes
            .get(arg.id)
            .cloned()
            .flatten()
            .ok_or_else(|| internal(arg.span))?;
        let n = match shape.entries() {
            Some(k) => self.add(Math::Num(Number::new(k as f64))),
            None => self.add(Math::Fill(Fill {
                kind: FillKind::Count,
                shape,
            })),
        };
        let mean = |s: &mut Self, a: Id| {
            let sum = s.add(Math::Sum([a]));
            s.add(Math::Div([sum, n]))
        };
        if b == Builtin::Mean {
            return Ok(mean(self, a));
        }
        let centred = mean(self, a);
        let centred = self.add(Math::Sub([a, centred]));
        let two = self.add(Math::Num(Number::new(2.0)));
        let square = self.add(Math::EPow([centred, two]));
        let var = mean(self, square);
        if b == Builtin::Var {
            return Ok(var);
        }
        let sqrt = self.func("sqrt", 0);
        Ok(self.add(Math::Elementwise([sqrt, var])))
    }

    /// A size written as a value (checked by the shape checker): a whole number, a
    /// dimension name, or a product of these.
    fn size(&self, e: &Expr) -> Result<Dim> {
        match &e.kind {
            ExprKind::Number(v) => Ok(Dim::lit(*v as u64)),
            ExprKind::Name(_) => match self.resolution(e)? {
                Resolution::Dimension(n) => Ok(Dim::sym(n.as_str())),
                _ => Err(internal(e.span)),
            },
            ExprKind::Binary { lhs, rhs, .. } => Ok(self.size(lhs)?.times(&self.size(rhs)?)),
            _ => Err(internal(e.span)),
        }
    }

    fn one_arg(&mut self, e: &Expr, args: &[Expr]) -> Result<Id> {
        match args {
            [a] => self.expr(a),
            _ => Err(internal(e.span)),
        }
    }

    fn expr(&mut self, e: &Expr) -> Result<Id> {
        Ok(match &e.kind {
            ExprKind::Number(v) => self.add(Math::Num(Number::new(*v))),
            ExprKind::ImaginaryUnit => self.add(Math::ImagUnit),
            ExprKind::Name(name) => match self.resolution(e)? {
                Resolution::Variable(_) => self.add(Math::Var(Symbol::from(name.as_str()))),
                Resolution::Binding(i) => *self.bindings.get(i).ok_or_else(|| internal(e.span))?,
                Resolution::Identity => self.fill(e, FillKind::Identity)?,
                Resolution::Ones => self.fill(e, FillKind::Ones)?,
                Resolution::Dimension(n) => self.add(Math::Fill(Fill {
                    kind: FillKind::Count,
                    shape: crate::lang::dims::Shape::column(crate::lang::dims::Dim::sym(
                        n.as_str(),
                    )),
                })),
                _ => return Err(internal(e.span)),
            },
            ExprKind::Call { args, .. } => match self.resolution(e)? {
                Resolution::Generic(i) => {
                    let f = self.a.functions.get(i).ok_or_else(|| internal(e.span))?;
                    let (name, kind) = (f.name.clone(), f.kind);
                    let f = self.func(&name, 0);
                    let a = self.one_arg(e, args)?;
                    match kind {
                        FunctionKind::Elementwise => self.add(Math::Elementwise([f, a])),
                        FunctionKind::ScalarValued => self.add(Math::Apply([f, a])),
                    }
                }
                Resolution::Builtin(Builtin::Outer) => match args.as_slice() {
                    [a, b] => {
                        let a = self.expr(a)?;
                        let b = self.expr(b)?;
                        let bt = self.add(Math::Transpose([b]));
                        self.add(Math::Mul([a, bt]))
                    }
                    _ => return Err(internal(e.span)),
                },
                Resolution::Builtin(Builtin::Grad) => match args.as_slice() {
                    [a, x, rest @ ..] if rest.len() <= 1 => {
                        let a = self.expr(a)?;
                        let x = self.expr(x)?;
                        let g = match rest {
                            [g] => self.expr(g)?,
                            _ => self.add(Math::Num(Number::new(1.0))),
                        };
                        self.add(Math::Vjp([g, a, x]))
                    }
                    _ => return Err(internal(e.span)),
                },
                Resolution::Builtin(Builtin::Commutation) if args.len() == 2 => {
                    let shape = Shape::new(self.size(&args[0])?, self.size(&args[1])?);
                    self.add(Math::Fill(Fill::commutation(shape)))
                }
                Resolution::Builtin(b @ (Builtin::Mean | Builtin::Var | Builtin::Std)) => {
                    let a = self.one_arg(e, args)?;
                    self.statistic(b, &args[0], a)?
                }
                Resolution::Builtin(b) => {
                    let a = self.one_arg(e, args)?;
                    let node = match b {
                        Builtin::Elementwise(name) => {
                            let f = self.func(name, 0);
                            Math::Elementwise([f, a])
                        }
                        Builtin::Trace => Math::Trace([a]),
                        Builtin::Det => Math::Det([a]),
                        Builtin::LogDet => Math::LogDet([a]),
                        Builtin::Sum => Math::Sum([a]),
                        Builtin::Norm => Math::Norm([a]),
                        Builtin::Norm1 => Math::Norm1([a]),
                        Builtin::LogSumExp => Math::LogSumExp([a]),
                        Builtin::Inv => Math::Inv([a]),
                        Builtin::Diag => Math::Diag([a]),
                        Builtin::Vec => Math::Vec([a]),
                        Builtin::Softmax => Math::Softmax([a]),
                        Builtin::Conj => Math::Conj([a]),
                        Builtin::Real => Math::Real([a]),
                        Builtin::Imag => Math::Imag([a]),
                        Builtin::Commutation => Math::Commutation([a]),
                        Builtin::Outer
                        | Builtin::Grad
                        | Builtin::Mean
                        | Builtin::Var
                        | Builtin::Std => return Err(internal(e.span)),
                    };
                    self.add(node)
                }
                _ => return Err(internal(e.span)),
            },
            ExprKind::Derivative {
                callee,
                order,
                args,
            } => {
                let name = match self.resolution(e)? {
                    Resolution::Generic(i) => self
                        .a
                        .functions
                        .get(i)
                        .map(|f| f.name.clone())
                        .ok_or_else(|| internal(e.span))?,
                    Resolution::Builtin(Builtin::Elementwise(name)) => name.to_string(),
                    _ => return Err(internal(callee.span)),
                };
                let f = self.func(&name, *order);
                let a = self.one_arg(e, args)?;
                self.add(Math::Elementwise([f, a]))
            }
            ExprKind::Gradient { callee, args } => {
                let f = self.func(&callee.name, 0);
                let a = self.one_arg(e, args)?;
                self.add(Math::Grad([f, a]))
            }
            ExprKind::Hessian { callee, args } => {
                let f = self.func(&callee.name, 0);
                let a = self.one_arg(e, args)?;
                self.add(Math::Hess([f, a]))
            }
            ExprKind::Neg { operand, .. } => {
                let a = self.expr(operand)?;
                self.add(Math::Neg([a]))
            }
            ExprKind::Postfix { op, operand, .. } => {
                let a = self.expr(operand)?;
                match op {
                    PostfixOp::Transpose => self.add(Math::Transpose([a])),
                    PostfixOp::Adjoint => self.add(Math::Adjoint([a])),
                    PostfixOp::Inverse => self.add(Math::Inv([a])),
                    PostfixOp::InverseTranspose => {
                        let inv = self.add(Math::Inv([a]));
                        self.add(Math::Transpose([inv]))
                    }
                    PostfixOp::Power(k) => {
                        let k = self.expr(k)?;
                        self.add(Math::Pow([a, k]))
                    }
                    PostfixOp::ElementwisePower(k) => {
                        let k = self.expr(k)?;
                        self.add(Math::EPow([a, k]))
                    }
                }
            }
            ExprKind::Binary {
                op: BinaryOp::Add, ..
            } if add_chain(e).len() > LONG_SUM => {
                // A long flat sum is lowered as a balanced tree: the same sum, but the
                // depth of the e-graph term (which sets the engine's iterations) is
                // logarithmic in its length.
                let terms = add_chain(e)
                    .into_iter()
                    .map(|t| self.expr(t))
                    .collect::<Result<Vec<_>>>()?;
                self.balanced_sum(&terms)
            }
            ExprKind::Binary { op, lhs, rhs, .. } => {
                let a = self.expr(lhs)?;
                let b = self.expr(rhs)?;
                let node = match op {
                    BinaryOp::Add => Math::Add([a, b]),
                    BinaryOp::Sub => Math::Sub([a, b]),
                    BinaryOp::Juxtapose | BinaryOp::Mul => Math::Mul([a, b]),
                    BinaryOp::Div => Math::Div([a, b]),
                    BinaryOp::Hadamard => Math::Hadamard([a, b]),
                    BinaryOp::EDiv => Math::EDiv([a, b]),
                    BinaryOp::Kron => Math::Kron([a, b]),
                };
                self.add(node)
            }
        })
    }
}

/// Sums with more terms than this are lowered as balanced trees.
const LONG_SUM: usize = 64;

/// The terms of a flat sum `a + b + … + z` (its left spine of `+`), in order.
fn add_chain(e: &Expr) -> Vec<&Expr> {
    let mut terms = vec![];
    let mut at = e;
    while let ExprKind::Binary {
        op: BinaryOp::Add,
        lhs,
        rhs,
        ..
    } = &at.kind
    {
        terms.push(&**rhs);
        at = lhs;
    }
    terms.push(at);
    terms.reverse();
    terms
}

/// The nodes reachable from `root`, as a RecExpr whose last node is `root`.
fn extract(nodes: &[Math], root: Id) -> RecExpr<Math> {
    let root = usize::from(root);
    let mut keep = vec![false; root + 1];
    keep[root] = true;
    for i in (0..=root).rev() {
        if keep[i] {
            for &c in nodes[i].children() {
                keep[usize::from(c)] = true;
            }
        }
    }
    let mut new_id = vec![Id::from(0usize); root + 1];
    let mut out: Vec<Math> = vec![];
    for i in 0..=root {
        if keep[i] {
            out.push(nodes[i].clone().map_children(|c| new_id[usize::from(c)]));
            new_id[i] = Id::from(out.len() - 1);
        }
    }
    RecExpr::from(out)
}

#[cfg(test)]
mod tests {
    use crate::check::{check_program, Checked};
    use crate::lang::dims::Shape;
    use crate::lang::node_shape;
    use egg::Symbol;
    use std::collections::BTreeMap;

    fn ok(input: &str) -> Checked {
        check_program(input).unwrap_or_else(|d| panic!("{}", d.render(input)))
    }

    /// The shapes that the e-graph language computes for the lowered nodes agree with the
    /// checker's, node by node and at the root.
    fn shapes_agree(c: &Checked) {
        let vars: BTreeMap<Symbol, Shape> = c
            .variables
            .iter()
            .map(|v| (Symbol::from(v.name.as_str()), v.shape.clone()))
            .collect();
        let mut shapes: Vec<Option<Shape>> = vec![];
        for node in c.expr.as_ref() {
            let shape = node_shape(
                node,
                &|id| shapes.get(usize::from(id)).cloned().flatten(),
                &|v| vars.get(&v).cloned(),
            );
            match shape {
                Ok(s) => shapes.push(s),
                Err(why) => panic!("{}: {node:?}: {why}", c.expr),
            }
        }
        assert_eq!(
            shapes.last().cloned().flatten(),
            Some(c.shape.clone()),
            "{}",
            c.expr
        );
    }

    #[test]
    fn every_form_lowers_to_its_node() {
        let decl = "x : R^n; y : R^n; A : R^(n×n); B : R^(m×p); α : scalar; z : C^n; Z : C^(n×n)\n";
        for (input, expect) in [
            ("x + y", "(+ x y)"),
            ("x - y", "(- x y)"),
            ("-x", "(neg x)"),
            ("A x", "(* A x)"),
            ("A * x", "(* A x)"),
            ("A · x", "(* A x)"),
            ("x / α", "(/ x α)"),
            ("x ∘ y", "(∘ x y)"),
            ("x ⊙ y", "(∘ x y)"),
            ("x .* y", "(∘ x y)"),
            ("x ⊘ y", "(⊘ x y)"),
            ("x ./ y", "(⊘ x y)"),
            ("A ⊗ B", "(⊗ A B)"),
            ("x'", "(T x)"),
            ("xᵀ", "(T x)"),
            ("x^T", "(T x)"),
            ("zᴴ", "(H z)"),
            ("z^H", "(H z)"),
            ("A⁻¹", "(inv A)"),
            ("A^-1", "(inv A)"),
            ("inv(A)", "(inv A)"),
            ("A⁻ᵀ", "(T (inv A))"),
            ("A^2", "(pow A 2)"),
            ("A²", "(pow A 2)"),
            ("A^-2", "(pow A -2)"),
            ("α^(1/3)", "(pow α (/ 1 3))"),
            ("α^α", "(pow α α)"),
            ("x.^2", "(epow x 2)"),
            ("x^∘α", "(epow x α)"),
            ("exp(x)", "(ew @exp x)"),
            ("tanh'(x)", "(ew @tanh' x)"),
            ("σ(x)", "(ew @σ x)"),
            ("σ'(x)", "(ew @σ' x)"),
            ("σ''(x)", "(ew @σ'' x)"),
            ("L(x)", "(apply @L x)"),
            ("∇L(x)", "(grad @L x)"),
            ("∇²L(x)", "(hess @L x)"),
            ("∇²L(A x)", "(hess @L (* A x))"),
            ("commutation(A)", "(commutation A)"),
            ("commutation(B)", "(commutation B)"),
            ("commutation(x)", "(commutation x)"),
            ("commutation(Z)", "(commutation Z)"),
            ("tr(A)", "(tr A)"),
            ("trace(A)", "(tr A)"),
            ("det(A)", "(det A)"),
            ("logdet(A)", "(logdet A)"),
            ("sum(B)", "(sum B)"),
            ("norm(x)", "(norm x)"),
            ("norm1(x)", "(norm1 x)"),
            ("logsumexp(x)", "(logsumexp x)"),
            ("diag(x)", "(diag x)"),
            ("diag(A)", "(diag A)"),
            ("vec(B)", "(vec B)"),
            ("softmax(x)", "(softmax x)"),
            ("outer(x, y)", "(* x (T y))"),
            ("conj(Z)", "(conj Z)"),
            ("real(Z)", "(real Z)"),
            ("imag(z)", "(imag z)"),
            ("A + I", "(+ A I[n,n])"),
            ("x + ones", "(+ x ones[n,1])"),
            ("B + ones", "(+ B ones[m,p])"),
            ("2.5 x + 1e-3", "(+ (* 2.5 x) 0.001)"),
        ] {
            let c = ok(&format!("{decl}{input}"));
            assert_eq!(c.expr.to_string(), expect, "{input}");
            shapes_agree(&c);
        }
    }

    #[test]
    fn lowered_shapes_agree_with_the_language() {
        for input in [
            "L(σ(W1 x) ∘ W2)",
            "xᵀ A x",
            "α x + x α - x / 2",
            "X : R^(m×n); B : R^(n×n); C : R^(m×m); vec(X)ᵀ (B ⊗ C) vec(X)",
            "diag(diag(A)) + I",
            "softmax(W x + b) ∘ onesᵀ y",
            "h = A x; g = σ(h); g ∘ h + outer(g, h) x",
            "tr(X⁻¹ Y) + logdet(X) + norm(Y)^2",
            "X : R^(m×n); commutation(X) vec(X) + vec(Xᵀ)",
            "commutation(A ⊗ B)",
            "x : R^n; xᵀ ∇²L(x) x + tr(∇²L(W x))",
            "∇²L(u) + u uᵀ",
        ] {
            shapes_agree(&ok(input));
        }
    }

    #[test]
    fn bindings_are_inlined_once_and_kept_by_name() {
        let c = ok("x : R^n; A : R^(n×n); h = A x; g = σ(h); h ∘ g + h");
        assert_eq!(
            c.expr.to_string(),
            "(+ (∘ (* A x) (ew @σ (* A x))) (* A x))"
        );
        // A, x, A x, @σ, σ(A x), ∘, +: every repeated sub-term is one node.
        assert_eq!(c.expr.as_ref().len(), 7);
        let bindings: Vec<(String, String)> = c
            .bindings
            .iter()
            .map(|(n, e)| (n.clone(), e.to_string()))
            .collect();
        assert_eq!(
            bindings,
            [
                ("h".to_string(), "(* A x)".to_string()),
                ("g".to_string(), "(ew @σ (* A x))".to_string())
            ]
        );
        // Each RecExpr holds only its own nodes, and its root is the last one.
        assert_eq!(c.bindings[0].1.as_ref().len(), 3);
        assert!(c.expr.is_dag());
    }

    #[test]
    fn chained_bindings_stay_linear() {
        // Written out, h40 would have 2^40 leaves.
        let mut src = String::from("h0 = x\n");
        for i in 1..=40 {
            src.push_str(&format!("h{i} = h{} ∘ h{}\n", i - 1, i - 1));
        }
        src.push_str("h40");
        let c = ok(&src);
        assert_eq!(c.expr.as_ref().len(), 41);
        assert_eq!(c.bindings.len(), 41);
        assert_eq!(c.bindings[40].1.as_ref().len(), 41);
        assert_eq!(c.shape.to_string(), "n1×1");
    }

    #[test]
    fn dims_in_fills_are_the_final_names() {
        // The size of `I` is an unknown until `A` is met; it ends up named like A's.
        let c = ok("I x + A x");
        assert_eq!(c.expr.to_string(), "(+ (* I[n1,n1] x) (* A x))");
        assert_eq!(
            c.variable("A").map(|v| v.shape.to_string()),
            Some("n1×n1".into())
        );
        shapes_agree(&c);
    }
}
