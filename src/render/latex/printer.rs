//! The LaTeX printer of one expression: precedence, bracket sizes, spacing between
//! factors, and every node's LaTeX form.

use super::{dim, function_name, name, number, Context, NumberForm};
use crate::lang::dims::{Kind, Shape};
use crate::lang::{fill_is_one, node_shape, FillKind, Func, Math};
use crate::render::Sharing;
use egg::{Id, RecExpr};

/// Binding strength, loosest first: the input language's levels (LANGUAGE.md §1) with a
/// fraction between prefix and postfix (it can follow a factor, but takes no
/// superscript without parentheses).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Prec {
    Sum,
    Elementwise,
    Product,
    Prefix,
    Frac,
    Postfix,
    Atom,
}

/// How a sub-expression is written, and what its neighbours need to know about it.
#[derive(Debug, Clone)]
pub(super) struct Written {
    pub(super) text: String,
    prec: Prec,
    /// Contains a fraction (or something as tall) on its baseline: brackets around it
    /// are `\left … \right`.
    tall: bool,
    /// How deeply brackets nest in it, which sizes the brackets around it.
    depth: u8,
    /// Ends with a superscript of the whole, so another one needs parentheses.
    sup: bool,
    /// Starts with a minus sign.
    neg: bool,
    /// The top-level infix operator, for the element-wise ones (`\odot`, `\oslash`, …).
    op: Option<&'static str>,
    /// Ends with the bracket of a function call (`\operatorname{tr}(A)`): a thin space
    /// separates it from a following factor.
    call_end: bool,
    /// Starts with a generic function applied (`\sigma(…)`, `\nabla L(…)`): a thin
    /// space separates it from a preceding factor.
    call_start: bool,
    /// Starts with an operator name (`\operatorname{tr}`, `\det`, `\exp`), which TeX
    /// itself spaces from a preceding factor.
    op_start: bool,
}

impl Written {
    fn atom(text: impl Into<String>) -> Written {
        Written {
            text: text.into(),
            prec: Prec::Atom,
            tall: false,
            depth: 0,
            sup: false,
            neg: false,
            op: None,
            call_end: false,
            call_start: false,
            op_start: false,
        }
    }
}

/// The delimiters around `inner`, sized to it.
fn sized(inner: &Written, open: &str, close: &str) -> (String, String) {
    if inner.tall {
        return (format!(r"\left{open}"), format!(r"\right{close}"));
    }
    let size = match inner.depth {
        0 => return (open.to_string(), close.to_string()),
        1 => "big",
        _ => "Big",
    };
    // `\bigl\lVert`, `\bigl(`
    (format!(r"\{size}l{open}"), format!(r"\{size}r{close}"))
}

/// `inner` in delimiters: an atom one level deeper.
fn bracket(inner: Written, open: &str, close: &str) -> Written {
    let (o, c) = sized(&inner, open, close);
    Written {
        text: format!("{o}{}{c}", inner.text),
        tall: inner.tall,
        depth: inner.depth.saturating_add(1),
        ..Written::atom("")
    }
}

fn parens(inner: Written) -> Written {
    bracket(inner, "(", ")")
}

/// Whether `text` must be separated from a preceding factor by `\cdot`: a numeral
/// directly after another factor would read as part of it (`x 2` as `x2`).
fn starts_with_digit(text: &str) -> bool {
    text.starts_with(|c: char| c.is_ascii_digit() || c == '.')
}

pub(super) struct Printer<'a> {
    expr: &'a RecExpr<Math>,
    sharing: &'a Sharing,
    ctx: &'a Context,
    shapes: Vec<Option<Shape>>,
}

impl<'a> Printer<'a> {
    pub(super) fn new(
        expr: &'a RecExpr<Math>,
        sharing: &'a Sharing,
        ctx: &'a Context,
    ) -> Printer<'a> {
        let mut shapes: Vec<Option<Shape>> = Vec::with_capacity(expr.as_ref().len());
        for node in expr.as_ref() {
            let shape = node_shape(
                node,
                &|c| shapes.get(usize::from(c)).cloned().flatten(),
                &|v| ctx.var_shapes.get(&v).cloned(),
            )
            .ok()
            .flatten();
            shapes.push(shape);
        }
        Printer {
            expr,
            sharing,
            ctx,
            shapes,
        }
    }

    pub(super) fn root(&self) -> String {
        match self.expr.as_ref().len() {
            0 => String::new(),
            n => self.write(Id::from(n - 1), false).text,
        }
    }

    fn node(&self, id: Id) -> Option<&Math> {
        self.expr.as_ref().get(usize::from(id))
    }

    /// The node at `id` when it is printed as itself (not by a name of its own).
    fn unnamed(&self, id: Id) -> Option<&Math> {
        if self.sharing.names.contains_key(&id) {
            None
        } else {
            self.node(id)
        }
    }

    fn shape(&self, id: Id) -> Option<&Shape> {
        self.shapes.get(usize::from(id)).and_then(Option::as_ref)
    }

    /// The node at `id`, parenthesised unless it binds at least as tightly as `min`.
    fn at(&self, id: Id, min: Prec) -> Written {
        let w = self.write(id, true);
        if w.prec < min {
            parens(w)
        } else {
            w
        }
    }

    /// The right operand of an infix operator: also parenthesised when it starts with a
    /// minus (`a - (-b)`, `a \odot (-b)`).
    fn right(&self, id: Id, min: Prec) -> Written {
        let w = self.write(id, true);
        if w.prec < min || w.neg {
            parens(w)
        } else {
            w
        }
    }

    pub(super) fn write(&self, id: Id, use_names: bool) -> Written {
        if use_names {
            if let Some(n) = self.sharing.names.get(&id) {
                return Written::atom(name(n));
            }
        }
        let Some(node) = self.node(id) else {
            return Written::atom(r"\mathord{?}");
        };
        use Math::*;
        match node {
            Add([a, b]) => self.infix(*a, "+", *b, Prec::Sum),
            Sub([a, b]) => self.infix(*a, "-", *b, Prec::Sum),
            Hadamard([a, b]) => {
                self.infix(*a, self.ctx.hadamard.macro_name(), *b, Prec::Elementwise)
            }
            EDiv([a, b]) => self.infix(*a, r"\oslash", *b, Prec::Elementwise),
            Kron([a, b]) => self.infix(*a, r"\otimes", *b, Prec::Elementwise),
            Mul([a, b]) => self.product(*a, *b),
            Div([a, b]) => {
                let (n, d) = (self.write(*a, true), self.write(*b, true));
                Written {
                    text: format!(r"\frac{{{}}}{{{}}}", n.text, d.text),
                    prec: Prec::Frac,
                    tall: true,
                    depth: n.depth.max(d.depth),
                    ..Written::atom("")
                }
            }
            Neg([a]) => {
                // Negation commutes with products and element-wise products, so
                // `-A x` and `-a \odot b` need no parentheses.
                let w = self.write(*a, true);
                let w = if w.prec < Prec::Elementwise || w.neg {
                    parens(w)
                } else {
                    w
                };
                Written {
                    text: format!("-{}", w.text),
                    prec: w.prec.min(Prec::Prefix),
                    neg: true,
                    ..w
                }
            }
            Transpose([a]) => match self.unnamed(*a) {
                Some(Inv([b])) => self.postfix(*b, r"{-\top}"),
                _ => self.postfix(*a, r"\top"),
            },
            Adjoint([a]) => match self.unnamed(*a) {
                Some(Inv([b])) => self.postfix(*b, r"{-\mathsf{H}}"),
                _ => self.postfix(*a, r"{\mathsf{H}}"),
            },
            Inv([a]) => match self.unnamed(*a) {
                Some(Transpose([b])) => self.postfix(*b, r"{-\top}"),
                Some(Adjoint([b])) => self.postfix(*b, r"{-\mathsf{H}}"),
                Some(Pow([b, k])) => match self.unnamed(*k) {
                    Some(Num(n)) => {
                        let (text, _) = number(-n.value(), true);
                        self.postfix(*b, &format!("{{{text}}}"))
                    }
                    _ => self.postfix(*a, "{-1}"),
                },
                _ => self.postfix(*a, "{-1}"),
            },
            Pow([a, k]) => {
                let e = self.exponent(*k);
                self.postfix(*a, &format!("{{{e}}}"))
            }
            EPow([a, k]) => {
                let e = self.exponent(*k);
                self.postfix(*a, &format!(r"{{\circ {e}}}"))
            }
            Elementwise([f, a]) => self.elementwise(*f, *a),
            Apply([f, a]) => self.call(&self.func(*f, "").0, &[*a], true),
            Grad([f, a]) => self.call(&self.func(*f, r"\nabla ").0, &[*a], true),
            Hess([f, a]) => self.call(&self.func(*f, r"\nabla^2 ").0, &[*a], true),
            Trace([a]) => self.call(r"\operatorname{tr}", &[*a], false),
            Det([a]) => self.call(r"\det", &[*a], false),
            LogDet([a]) => {
                // log|det A|
                let det = self.call(r"\det", &[*a], false);
                let abs = bracket(det, r"\lvert", r"\rvert");
                Written {
                    text: format!(r"\log{}", abs.text),
                    call_end: true,
                    op_start: true,
                    ..abs
                }
            }
            Sum([a]) => self.call(r"\operatorname{sum}", &[*a], false),
            Norm([a]) => {
                let matrix = self
                    .shape(*a)
                    .is_some_and(|s| Kind::of_shape(s) == Kind::Matrix && !s.rows.is_one());
                self.norm(*a, if matrix { "_F" } else { "" })
            }
            Norm1([a]) => self.norm(*a, "_1"),
            LogSumExp([a]) => self.call(r"\operatorname{logsumexp}", &[*a], false),
            Diag([a]) => self.call(r"\operatorname{diag}", &[*a], false),
            Vec([a]) => self.call(r"\operatorname{vec}", &[*a], false),
            Softmax([a]) => self.call(r"\operatorname{softmax}", &[*a], false),
            Conj([a]) => {
                let w = self.write(*a, true);
                Written {
                    text: format!(r"\overline{{{}}}", w.text),
                    tall: w.tall,
                    depth: w.depth,
                    ..Written::atom("")
                }
            }
            Real([a]) => self.call(r"\operatorname{Re}", &[*a], false),
            Imag([a]) => self.call(r"\operatorname{Im}", &[*a], false),
            Commutation([a]) => match self.shape(*a) {
                Some(s) => Written::atom(format!("K_{{{},{}}}", dim(&s.rows), dim(&s.cols))),
                None => self.call(r"\operatorname{commutation}", &[*a], false),
            },
            Vjp([g, e, x]) => Written::atom(self.gradient_call(*g, *e, *x)),
            Jvp([e, x, v]) => self.call(r"\operatorname{jvp}", &[*e, *x, *v], false),
            Coef([m, d]) => self.call(r"\operatorname{coef}", &[*m, *d], false),
            Unbroadcast([g, a]) => self.call(r"\operatorname{unb}", &[*g, *a], false),
            ZerosLike([a]) => self.call(r"\operatorname{zeros\_like}", &[*a], false),
            OnesLike([a]) => self.call(r"\operatorname{ones\_like}", &[*a], false),
            EyeLike([a]) => self.call(r"\operatorname{eye\_like}", &[*a], false),
            NCols([a]) => self.call(r"\operatorname{ncols}", &[*a], false),
            KronPerm([a, b]) => self.call(r"\operatorname{kperm}", &[*a, *b], false),
            Derive([f]) => Written::atom(self.func(*f, "").0 + "'"),
            Fill(fill) if fill.kind == FillKind::Commutation => Written::atom(format!(
                "K_{{{},{}}}",
                dim_latex(&fill.shape.rows),
                dim_latex(&fill.shape.cols)
            )),
            Fill(fill) if fill.kind == FillKind::Count => {
                Written::atom(dim_latex(&fill.shape.count()))
            }
            Fill(fill) => Written::atom(match fill.kind {
                FillKind::Zeros => "0",
                _ if fill_is_one(fill) => "1",
                FillKind::Ones => r"\mathbf{1}",
                _ => "I",
            }),
            ImagUnit => Written::atom(r"\mathrm{i}"),
            Num(n) => {
                let (text, form) = number(n.value(), false);
                let neg = text.starts_with('-');
                Written {
                    prec: match form {
                        _ if neg => Prec::Prefix,
                        NumberForm::Plain => Prec::Atom,
                        NumberForm::Fraction => Prec::Frac,
                        NumberForm::Scientific => Prec::Product,
                    },
                    tall: form == NumberForm::Fraction,
                    sup: form == NumberForm::Scientific,
                    neg,
                    ..Written::atom(text)
                }
            }
            Func(f) => Written::atom(func_text(*f, "")),
            Var(v) => match self.ctx.directions.get(v) {
                // A differential is set off by thin spaces in products: `A \, \mathrm{d}X \, B`.
                Some(x) => Written {
                    call_start: true,
                    call_end: true,
                    ..Written::atom(format!(r"\mathrm{{d}}{}", name(x.as_str())))
                },
                None => Written::atom(name(v.as_str())),
            },
        }
    }

    /// `a op b`, left-associative: the right operand binds one level tighter. Different
    /// element-wise operators are not chained without parentheses
    /// (`(a \oslash b) \odot c`), since readers know no precedence among them.
    fn infix(&self, a: Id, op: &'static str, b: Id, prec: Prec) -> Written {
        let right_min = match prec {
            Prec::Sum => Prec::Elementwise,
            _ => Prec::Product,
        };
        let l = self.at(a, prec);
        let l = if prec == Prec::Elementwise && l.prec == Prec::Elementwise && l.op != Some(op) {
            parens(l)
        } else {
            l
        };
        let r = self.right(b, right_min);
        let r = if prec == Prec::Elementwise && r.prec == Prec::Elementwise {
            parens(r)
        } else {
            r
        };
        Written {
            text: format!("{} {op} {}", l.text, r.text),
            prec,
            tall: l.tall || r.tall,
            depth: l.depth.max(r.depth),
            sup: false,
            neg: l.neg,
            op: (prec == Prec::Elementwise).then_some(op),
            call_end: false,
            call_start: false,
            op_start: l.op_start,
        }
    }

    /// A product by juxtaposition. A number on the right is written first (scaling
    /// commutes), a numeral after a factor gets `\cdot`, and a thin space separates a
    /// function call from its neighbour (`\operatorname{tr}(A) \, I`).
    fn product(&self, a: Id, b: Id) -> Written {
        let number = |id: Id| matches!(self.unnamed(id), Some(Math::Num(_)));
        let (a, b) = if number(b) && !number(a) {
            (b, a)
        } else {
            (a, b)
        };
        let l = self.at(a, Prec::Product);
        let r = self.right(b, Prec::Frac);
        let sep = if starts_with_digit(&r.text) {
            r" \cdot "
        } else if r.op_start {
            " "
        } else if l.call_end || r.call_start {
            r" \, "
        } else {
            " "
        };
        Written {
            text: format!("{}{sep}{}", l.text, r.text),
            prec: Prec::Product,
            tall: l.tall || r.tall,
            depth: l.depth.max(r.depth),
            sup: false,
            neg: l.neg,
            op: None,
            call_end: r.call_end,
            call_start: l.call_start,
            op_start: l.op_start,
        }
    }

    /// `a^{sup}` (`sup` already braced or a single token); parentheses around an operand
    /// that is not an atom or already has a superscript (`(x^\top)^{2}`).
    fn postfix(&self, a: Id, sup: &str) -> Written {
        let w = self.write(a, true);
        let w = if w.prec < Prec::Postfix || w.sup {
            parens(w)
        } else {
            w
        };
        Written {
            text: format!("{}^{sup}", w.text),
            prec: Prec::Postfix,
            sup: true,
            neg: false,
            op: None,
            ..w
        }
    }

    /// An exponent, inside braces: numbers as `2`, `-1`, `1/3`; anything else as is.
    fn exponent(&self, k: Id) -> String {
        match self.unnamed(k) {
            Some(Math::Num(n)) => number(n.value(), true).0,
            _ => self.write(k, true).text,
        }
    }

    /// `grad(E, X, G)` (the gradient of ⟨G, E⟩ with respect to X): `\nabla_{X} e`, with
    /// parentheses around an E that is not a name or a call, when G is 1; else
    /// `\nabla_{X} \langle G, E \rangle`.
    fn gradient_call(&self, g: Id, e: Id, x: Id) -> String {
        let xs = self.write(x, true).text;
        let es = self.write(e, true).text;
        if matches!(self.node(g), Some(Math::Num(n)) if n.value() == 1.0) {
            let plain = self.sharing.names.contains_key(&e)
                || matches!(
                    self.node(e),
                    Some(
                        Math::Var(_)
                            | Math::Apply(_)
                            | Math::Elementwise(_)
                            | Math::Grad(_)
                            | Math::Trace(_)
                            | Math::Det(_)
                            | Math::LogDet(_)
                            | Math::Sum(_)
                            | Math::Norm(_)
                            | Math::Norm1(_)
                            | Math::LogSumExp(_)
                    )
                );
            if plain {
                format!(r"\nabla_{{{xs}}} {es}")
            } else {
                format!(r"\nabla_{{{xs}}} \left( {es} \right)")
            }
        } else {
            let gs = self.write(g, true).text;
            format!(r"\nabla_{{{xs}}} \left\langle {gs}, {es} \right\rangle")
        }
    }

    /// `name(args)`, the brackets sized to the arguments. `generic` marks a generic
    /// function (`\sigma`, `\nabla L`), which a thin space separates from a preceding
    /// factor; operator names (`\operatorname`, `\det`) are spaced by TeX itself.
    fn call(&self, name: &str, args: &[Id], generic: bool) -> Written {
        let ws: Vec<Written> = args.iter().map(|a| self.write(*a, true)).collect();
        let inner = Written {
            text: ws
                .iter()
                .map(|w| w.text.as_str())
                .collect::<Vec<_>>()
                .join(", "),
            tall: ws.iter().any(|w| w.tall),
            depth: ws.iter().map(|w| w.depth).max().unwrap_or(0),
            ..Written::atom("")
        };
        let b = parens(inner);
        Written {
            text: format!("{name}{}", b.text),
            call_end: true,
            call_start: generic,
            op_start: !generic,
            ..b
        }
    }

    /// `\lVert a \rVert` with a subscript (`_1`, `_F`).
    fn norm(&self, a: Id, sub: &str) -> Written {
        let w = self.write(a, true);
        let b = bracket(w, r"\lVert ", r"\rVert");
        Written {
            text: format!("{}{sub}", b.text),
            call_end: true,
            ..b
        }
    }

    /// An element-wise function applied: built-ins as textbook operators
    /// (`\exp`, `\sqrt{…}`, `\lvert … \rvert`), generic ones by name (`\sigma'(…)`).
    fn elementwise(&self, f: Id, a: Id) -> Written {
        let func = match self.unnamed(f) {
            Some(Math::Func(func)) => Some(*func),
            _ => None,
        };
        match func.map(|f| (f.name.as_str(), f.order)) {
            Some(("sqrt", 0)) => {
                let w = self.write(a, true);
                Written {
                    text: format!(r"\sqrt{{{}}}", w.text),
                    tall: w.tall,
                    depth: w.depth,
                    ..Written::atom("")
                }
            }
            Some(("abs", 0)) => {
                let w = self.write(a, true);
                Written {
                    call_end: true,
                    ..bracket(w, r"\lvert ", r"\rvert")
                }
            }
            _ => {
                let (name, generic) = self.func(f, "");
                self.call(&name, &[a], generic)
            }
        }
    }

    /// The name of the function at `f` with a prefix (`\nabla `), and whether it is a
    /// generic function.
    fn func(&self, f: Id, prefix: &str) -> (String, bool) {
        match self.node(f) {
            Some(Math::Func(func)) => (func_text(*func, prefix), !func.is_builtin()),
            _ => (format!("{prefix}{}", self.at(f, Prec::Atom).text), true),
        }
    }
}

/// A function leaf: `\exp`, `\operatorname{ReLU}`, `\sigma'`, `g^{(4)}`.
fn func_text(f: Func, prefix: &str) -> String {
    let base = match crate::lang::builtins::elementwise(f.name.as_str()) {
        Some(b) => b.latex.to_string(),
        None => function_name(f.name.as_str()),
    };
    let primes = match f.order {
        0 => String::new(),
        n @ 1..=3 => "'".repeat(n as usize),
        n => format!("^{{({n})}}"),
    };
    format!("{prefix}{base}{primes}")
}

/// A dimension in LaTeX: `m`, `3`, `m p`, Greek names as macros.
fn dim_latex(d: &crate::lang::dims::Dim) -> String {
    let mut parts: Vec<String> = vec![];
    if d.coef != 1 || d.syms.is_empty() {
        parts.push(d.coef.to_string());
    }
    parts.extend(d.syms.iter().map(|s| name(s.as_str())));
    parts.join(" ")
}
