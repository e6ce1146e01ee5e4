//! The text printer: expressions in the input language, with only the parentheses the
//! precedence needs, so that printing and parsing again gives the same expression.

use super::Sharing;
use crate::check::Checked;
use crate::engine::{Outcome, ResultKind};
use crate::lang::dims::Shape;
use crate::lang::{FillKind, Math};
use egg::{Id, Language, RecExpr};
use std::collections::HashMap;
use std::fmt::Write as _;

/// Every result as the text output prints it: `label = expression`, then one
/// `  where name = definition` line per named shared sub-term. The results of one
/// variable each list every name they use; with several variables, the results share
/// their names and each is defined once, under the first result that uses it (so the
/// gradients of an N-layer network wrt every layer print in size linear in N, as
/// backpropagation writes them).
pub fn results_to_text(checked: &Checked, outcome: &Outcome) -> String {
    let ds = &outcome.derivatives;
    let several = ds.iter().any(|d| d.wrt != ds[0].wrt);
    let texts: Vec<(String, Vec<(String, String)>)> = if several {
        shared_results_text(checked, ds)
    } else {
        ds.iter().map(|d| result_text(checked, &d.expr)).collect()
    };
    let mut out = String::new();
    for (d, (main, defs)) in ds.iter().zip(texts) {
        let x_shape = checked
            .variable(d.wrt.as_str())
            .map(|v| v.shape.clone())
            .unwrap_or_else(Shape::scalar);
        let _ = writeln!(out, "{} = {main}", label(d.kind, d.wrt.as_str(), &x_shape));
        for (name, def) in defs {
            let _ = writeln!(out, "  where {name} = {def}");
        }
    }
    out
}

/// The results in one DAG with names shared across them: each result's text and the
/// definitions it needs that no earlier result gave.
fn shared_results_text(
    checked: &Checked,
    ds: &[crate::engine::Derivative],
) -> Vec<(String, Vec<(String, String)>)> {
    // Each result's own names (as it alone would print), and large sub-terms that
    // several results share.
    let mut terms = crate::lang::HashCons::default();
    let mut own: Vec<Id> = vec![];
    let mut roots: Vec<Id> = vec![];
    for d in ds {
        let ids = terms.intern_all(&d.expr);
        own.extend(
            super::share(&d.expr, &checked.binding_terms)
                .order
                .iter()
                .map(|id| ids[usize::from(*id)]),
        );
        roots.push(*ids.last().unwrap_or(&Id::from(0)));
    }
    let expr = terms.into_expr();
    let mut named = vec![false; expr.as_ref().len()];
    for id in own {
        named[usize::from(id)] = true;
    }
    let wanted = |i: usize, uses: usize, size: usize, _| {
        named[i] || uses >= 2 && size >= super::SHARE_MIN_SIZE
    };
    let sharing = super::share_roots(&expr, &roots, &checked.binding_terms, &wanted)
        .with_variables(
            checked
                .variables
                .iter()
                .map(|v| (v.shape.clone(), v.name.clone())),
        );
    let printer = Printer {
        expr: &expr,
        sharing: &sharing,
    };
    // Each result walks only the nodes no earlier result reached: the names below a
    // node already reached were defined with it.
    let place: HashMap<Id, usize> = sharing
        .order
        .iter()
        .enumerate()
        .map(|(k, id)| (*id, k))
        .collect();
    let mut reached = vec![false; expr.as_ref().len()];
    roots
        .iter()
        .map(|&root| {
            let mut new_names = vec![];
            let mut todo = vec![root];
            while let Some(id) = todo.pop() {
                let i = usize::from(id);
                if std::mem::replace(&mut reached[i], true) {
                    continue;
                }
                if let Some(&k) = place.get(&id) {
                    new_names.push(k);
                }
                todo.extend(expr[id].children());
            }
            new_names.sort_unstable();
            let defs = new_names
                .into_iter()
                .map(|k| {
                    let id = sharing.order[k];
                    (sharing.names[&id].clone(), printer.write(id, false).text)
                })
                .collect();
            (printer.write(root, false).text, defs)
        })
        .collect()
}

/// One result's expression and its named shared sub-terms (the user's binding names,
/// or `t1`, `t2`, …), as text.
pub fn result_text(checked: &Checked, expr: &RecExpr<Math>) -> (String, Vec<(String, String)>) {
    let sharing = super::share(expr, &checked.binding_terms).with_variables(
        checked
            .variables
            .iter()
            .map(|v| (v.shape.clone(), v.name.clone())),
    );
    with_sharing(expr, &sharing)
}

/// The left-hand side of a result in text, as the text output writes it: `∂f/∂X`,
/// `df`, `∂vec(f)/∂vec(X)`, `∂²f/∂x²`, `∂²f/∂x∂xᵀ`, `∂²f/∂vec(X)∂vec(X)ᵀ`, `d²f`.
pub fn label(kind: ResultKind, wrt: &str, wrt_shape: &Shape) -> String {
    match kind {
        ResultKind::Gradient | ResultKind::Derivative | ResultKind::Jacobian => {
            format!("∂f/∂{wrt}")
        }
        ResultKind::Differential => "df".into(),
        ResultKind::VecJacobian => format!("∂vec(f)/∂vec({wrt})"),
        ResultKind::Hessian if wrt_shape.is_scalar() => format!("∂²f/∂{wrt}²"),
        ResultKind::Hessian if wrt_shape.cols.is_one() => format!("∂²f/∂{wrt}∂{wrt}ᵀ"),
        ResultKind::Hessian => format!("∂²f/∂vec({wrt})∂vec({wrt})ᵀ"),
        ResultKind::SecondDifferential => "d²f".into(),
    }
}

/// Binding strength, loosest first (LANGUAGE.md §1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Prec {
    /// `a + b`, `a - b`: the loosest.
    Sum,
    /// `a ∘ b`, `a ⊘ b`, `a ⊗ b`.
    Elementwise,
    /// `a b`, `a / s`.
    Product,
    /// `-a`.
    Prefix,
    /// `aᵀ`, `a⁻¹`, `a^k`, ….
    Postfix,
    /// Names, numbers, calls and parenthesised expressions.
    Atom,
}

/// How an expression is written: its text and how tightly it binds.
struct Written {
    text: String,
    prec: Prec,
}

/// Print an expression with no named sub-terms.
pub fn expr_to_string(expr: &RecExpr<Math>) -> String {
    Printer {
        expr,
        sharing: &Sharing::default(),
    }
    .root()
}

/// Print an expression and its named sub-terms: the main line and `(name, definition)`
/// pairs in definition order.
pub fn with_sharing(expr: &RecExpr<Math>, sharing: &Sharing) -> (String, Vec<(String, String)>) {
    let printer = Printer { expr, sharing };
    let defs = sharing
        .order
        .iter()
        .map(|id| (sharing.names[id].clone(), printer.write(*id, false).text))
        .collect();
    (printer.root(), defs)
}

struct Printer<'a> {
    expr: &'a RecExpr<Math>,
    sharing: &'a Sharing,
}

/// Superscript digits for small integer powers.
fn superscript(n: f64) -> Option<String> {
    if n.fract() != 0.0 || !(2.0..=9.0).contains(&n) {
        return None;
    }
    const DIGITS: [char; 10] = ['⁰', '¹', '²', '³', '⁴', '⁵', '⁶', '⁷', '⁸', '⁹'];
    Some(DIGITS[n as usize].to_string())
}

/// A size as a value: the product of its factors, `m n`, `2 n` (dimension names are values).
fn size_value(n: &crate::lang::dims::Dim) -> String {
    let mut factors: Vec<String> = n.syms.iter().map(|s| s.to_string()).collect();
    if n.coef != 1 || factors.is_empty() {
        factors.insert(0, n.coef.to_string());
    }
    factors.join(" ")
}

/// A number as the language writes it: an integer, a simple fraction `2/3` for a number
/// with no short decimal form, or a decimal.
pub fn number(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{}", v as i64)
    } else if let Some((n, d)) = super::latex::simple_fraction(v) {
        format!("{n}/{d}")
    } else {
        format!("{v}")
    }
}

impl Printer<'_> {
    fn root(&self) -> String {
        match self.expr.as_ref().len() {
            0 => String::new(),
            n => self.write(Id::from(n - 1), false).text,
        }
    }

    /// The text of a node at least as tight as `min` (parenthesised otherwise).
    fn at(&self, id: Id, min: Prec) -> String {
        let w = self.write(id, true);
        if w.prec < min {
            format!("({})", w.text)
        } else {
            w.text
        }
    }

    fn write(&self, id: Id, use_names: bool) -> Written {
        if use_names {
            if let Some(name) = self.sharing.names.get(&id) {
                return Written {
                    text: name.clone(),
                    prec: Prec::Atom,
                };
            }
        }
        use Math::*;
        let node = &self.expr[id];
        let infix = |a: &Id, op: &str, b: &Id, prec: Prec, right: Prec| Written {
            text: format!("{} {op} {}", self.at(*a, prec), self.at(*b, right)),
            prec,
        };
        let postfix = |a: &Id, op: &str| Written {
            text: format!("{}{op}", self.at(*a, Prec::Postfix)),
            prec: Prec::Postfix,
        };
        let call = |name: &str, args: &[&Id]| Written {
            text: format!(
                "{name}({})",
                args.iter()
                    .map(|a| self.at(**a, Prec::Sum))
                    .collect::<std::vec::Vec<_>>()
                    .join(", ")
            ),
            prec: Prec::Atom,
        };
        match node {
            Add([a, b]) => infix(a, "+", b, Prec::Sum, Prec::Elementwise),
            Sub([a, b]) => infix(a, "-", b, Prec::Sum, Prec::Elementwise),
            Hadamard([a, b]) => infix(a, "∘", b, Prec::Elementwise, Prec::Product),
            EDiv([a, b]) => infix(a, "⊘", b, Prec::Elementwise, Prec::Product),
            Kron([a, b]) => infix(a, "⊗", b, Prec::Elementwise, Prec::Product),
            Div([a, b]) => infix(a, "/", b, Prec::Product, Prec::Prefix),
            Mul([a, b]) => Written {
                // Juxtaposition: the right operand must not start with `-`.
                text: format!(
                    "{} {}",
                    self.at(*a, Prec::Product),
                    self.at(*b, Prec::Postfix)
                ),
                prec: Prec::Product,
            },
            Neg([a]) => {
                // -(A B) is written `-A B`, which reads as (-A) B, the same value.
                let inner = self.write(*a, true);
                if matches!(self.expr[*a], Mul(_))
                    && inner.prec == Prec::Product
                    && !inner.text.starts_with('-')
                    && !self.sharing.names.contains_key(a)
                {
                    Written {
                        text: format!("-{}", inner.text),
                        prec: Prec::Product,
                    }
                } else {
                    Written {
                        text: format!("-{}", self.at(*a, Prec::Prefix)),
                        prec: Prec::Prefix,
                    }
                }
            }
            Transpose([a]) => postfix(a, "ᵀ"),
            Adjoint([a]) => postfix(a, "ᴴ"),
            Inv([a]) => postfix(a, "⁻¹"),
            Pow([a, k]) => match &self.expr[*k] {
                // A power of a transpose or inverse is bracketed: `(X⁻¹)⁴`, never `X⁻¹⁴`.
                Num(n) => match superscript(n.value()) {
                    Some(sup) => Written {
                        text: format!("{}{sup}", self.at(*a, Prec::Atom)),
                        prec: Prec::Postfix,
                    },
                    None => postfix(a, &format!("^{}", self.at(*k, Prec::Atom))),
                },
                _ => postfix(a, &format!("^{}", self.at(*k, Prec::Atom))),
            },
            EPow([a, k]) => postfix(a, &format!(".^{}", self.at(*k, Prec::Atom))),
            Elementwise([f, a]) | Apply([f, a]) => call(&self.func_name(*f, ""), &[a]),
            Grad([f, a]) => call(&self.func_name(*f, "∇"), &[a]),
            // Built-ins with a node of their own: the node's name is the table's
            // (`lang::builtins`).
            Trace([a]) | Det([a]) | LogDet([a]) | Sum([a]) | Norm([a]) | Norm1([a])
            | LogSumExp([a]) | Diag([a]) | Vec([a]) | Softmax([a]) | Conj([a]) | Real([a])
            | Imag([a]) | Commutation([a]) => call(&node.to_string(), &[a]),
            Hess([f, a]) => call(&self.func_name(*f, "∇²"), &[a]),
            // `grad(E, X, G)`: the gradient of sum(G ∘ E) wrt X, G held fixed (the
            // language's `grad`, as `--explain` prints derivation steps).
            Vjp([g, e, x]) => match &self.expr[*g] {
                Num(n) if n.value() == 1.0 => call("grad", &[e, x]),
                _ => call("grad", &[e, x, g]),
            },
            KronPerm([a, b]) => call("kperm", &[a, b]),
            Jvp([e, x, v]) => call("jvp", &[e, x, v]),
            Coef([m, d]) => call("coef", &[m, d]),
            Unbroadcast([g, a]) => call("unb", &[g, a]),
            ZerosLike([a]) => call("zeros_like", &[a]),
            OnesLike([a]) => call("ones_like", &[a]),
            NCols([a]) => call("ncols", &[a]),
            EyeLike([a]) => call("eye_like", &[a]),
            Derive([f]) => call("d", &[f]),
            Fill(fill) if fill.kind == FillKind::Commutation => Written {
                text: self.commutation(&fill.shape),
                prec: Prec::Atom,
            },
            // A zero matrix keeps its shape, inside an expression and as a whole result:
            // `0 X` for a variable X of that shape (`0 Yᵀ`, `0 u vᵀ`), so that it reads
            // back as a zero of that shape.
            Fill(fill) if fill.kind == FillKind::Zeros && !fill.shape.is_scalar() => {
                match self.expr_shaped_like(&fill.shape) {
                    Some(x) => Written {
                        text: format!("0 {x}"),
                        prec: Prec::Product,
                    },
                    None => Written {
                        text: "0".into(),
                        prec: Prec::Atom,
                    },
                }
            }
            // The number of entries of an m×n value: `m n` (dimension names are values).
            Fill(fill) if fill.kind == FillKind::Count => {
                let n = fill.shape.count();
                Written {
                    prec: if n.syms.len() + usize::from(n.coef != 1) <= 1 {
                        Prec::Atom
                    } else {
                        Prec::Product
                    },
                    text: size_value(&n),
                }
            }
            Fill(fill) => Written {
                text: match fill.kind {
                    FillKind::Zeros => "0",
                    FillKind::Ones => "ones",
                    FillKind::Identity => "I",
                    FillKind::Commutation | FillKind::Count => unreachable!("printed above"),
                }
                .into(),
                prec: Prec::Atom,
            },
            Num(n) => Written {
                text: number(n.value()),
                prec: if super::latex::simple_fraction(n.value()).is_some() {
                    Prec::Product
                } else if n.value() < 0.0 {
                    Prec::Prefix
                } else {
                    Prec::Atom
                },
            },
            ImagUnit => Written {
                text: "ⅈ".into(),
                prec: Prec::Atom,
            },
            Func(f) => Written {
                text: format!("{}{}", f.name, "'".repeat(f.order as usize)),
                prec: Prec::Atom,
            },
            Var(v) => Written {
                text: v.to_string(),
                prec: Prec::Atom,
            },
        }
    }

    /// A variable of this shape, `X`, or one of the transposed shape, `Yᵀ`.
    fn shaped_like(&self, shape: &crate::lang::dims::Shape) -> Option<String> {
        let named = |s: &crate::lang::dims::Shape| {
            self.sharing
                .shape_names
                .iter()
                .find(|(vs, _)| vs == s)
                .map(|(_, n)| n.clone())
        };
        named(shape).or_else(|| named(&shape.transposed()).map(|y| format!("{y}ᵀ")))
    }

    /// An expression of this shape from the variables, for a zero matrix to print as
    /// `0 …` and a commutation matrix as `commutation(…)`: a variable (`X`, `Yᵀ`), `vec(X)`, or a product of two (`u vᵀ`, `A B`,
    /// `vec(X) yᵀ`).
    fn expr_shaped_like(&self, shape: &crate::lang::dims::Shape) -> Option<String> {
        use crate::lang::dims::Shape;
        let one = crate::lang::dims::Dim::one();
        let mut atoms: Vec<(Shape, String)> = vec![];
        for (s, n) in &self.sharing.shape_names {
            atoms.push((s.clone(), n.clone()));
            if s.rows != one && s.cols != one {
                atoms.push((
                    Shape::new(s.rows.times(&s.cols), one.clone()),
                    format!("vec({n})"),
                ));
            }
        }
        // Each atom as written (`X`) or transposed (`Xᵀ`), with its shape.
        let forms: Vec<(Shape, String)> = atoms
            .iter()
            .flat_map(|(s, n)| [(s.clone(), n.clone()), (s.transposed(), format!("{n}ᵀ"))])
            .collect();
        if let Some((_, n)) = forms.iter().find(|(s, _)| s == shape) {
            return Some(n.clone());
        }
        forms
            .iter()
            .filter(|(s, _)| s.rows == shape.rows)
            .find_map(|(l, left)| {
                forms
                    .iter()
                    .find(|(r, _)| r.rows == l.cols && r.cols == shape.cols)
                    .map(|(_, right)| format!("{left} {right}"))
            })
    }

    /// `commutation(X)` for a variable X of the shape (or `Yᵀ` for one of the transposed
    /// shape, or a product such as `u vᵀ`); `commutation(m, n)` when nothing has it.
    fn commutation(&self, shape: &crate::lang::dims::Shape) -> String {
        match self
            .shaped_like(shape)
            .or_else(|| self.expr_shaped_like(shape))
        {
            Some(x) => format!("commutation({x})"),
            None => format!(
                "commutation({}, {})",
                size_value(&shape.rows),
                size_value(&shape.cols)
            ),
        }
    }

    fn func_name(&self, f: Id, prefix: &str) -> String {
        match &self.expr[f] {
            Math::Func(func) => format!("{prefix}{}{}", func.name, "'".repeat(func.order as usize)),
            _ => format!("{prefix}{}", self.at(f, Prec::Atom)),
        }
    }
}
