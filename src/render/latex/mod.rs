//! The LaTeX printer (LANGUAGE.md §3): one math fragment per result, for papers.
//!
//! Names get subscripts (`W1` → `W_1`) and Greek macros (`σ` → `\sigma`); operators
//! their textbook symbols (`∘` → `\odot`, `ᵀ` → `^\top`, `⁻¹` → `^{-1}`); division by a
//! scalar is a `\frac`. Parentheses follow the precedence of the input language (only
//! those it needs, plus a few that make mixed element-wise operators unambiguous) and
//! are sized to what they hold: `\left( … \right)` around tall content such as a
//! fraction, otherwise one size up per level of nesting (`(`, `\bigl(`, `\Bigl(`), as
//! textbooks set them. The output uses only amsmath and compiles with pdflatex and
//! renders with KaTeX (both checked on every test case by `tests/matdiff/latex.rs`).

use super::{share, Sharing};
use crate::engine::{Outcome, ResultKind};
use crate::lang::dims::{Dim, Shape};
use crate::lang::Math;
use crate::Checked;
use egg::{RecExpr, Symbol};
use std::collections::BTreeMap;
use std::fmt::Write as _;

/// The symbol of the Hadamard product.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum HadamardSymbol {
    /// `\odot` (⊙), the usual symbol in machine learning.
    #[default]
    Odot,
    /// `\circ` (∘), as in the Matrix Cookbook and the input language.
    Circ,
}

impl HadamardSymbol {
    fn macro_name(self) -> &'static str {
        match self {
            HadamardSymbol::Odot => r"\odot",
            HadamardSymbol::Circ => r"\circ",
        }
    }
}

/// How results are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LatexOptions {
    /// The symbol of the Hadamard product.
    pub hadamard: HadamardSymbol,
    /// A complete amsmath document instead of one fragment per line.
    pub document: bool,
}

/// What the printer knows beyond the expression: the shapes of variables (for `K_{m,n}`
/// and `\lVert X \rVert_F`) and which variables are directions of differentials
/// (`dX`, printed `\mathrm{d}X`).
#[derive(Debug, Clone, Default)]
pub struct Context {
    /// The shape of every variable, directions included.
    pub var_shapes: BTreeMap<Symbol, Shape>,
    /// Direction variable → the variable it is the differential of.
    pub directions: BTreeMap<Symbol, Symbol>,
    /// The symbol of the Hadamard product.
    pub hadamard: HadamardSymbol,
}

impl Context {
    /// The context of a checked program and the directions of an engine run.
    pub fn new(
        checked: &Checked,
        directions: &[(Symbol, Symbol)],
        hadamard: HadamardSymbol,
    ) -> Context {
        let mut var_shapes: BTreeMap<Symbol, Shape> = checked
            .variables
            .iter()
            .map(|v| (Symbol::from(v.name.as_str()), v.shape.clone()))
            .collect();
        for (x, dx) in directions {
            if let Some(s) = var_shapes.get(x).cloned() {
                var_shapes.entry(*dx).or_insert(s);
            }
        }
        Context {
            var_shapes,
            directions: directions.iter().map(|(x, dx)| (*dx, *x)).collect(),
            hadamard,
        }
    }
}

/// One result as LaTeX: the label (`\frac{\partial f}{\partial W_1}`), the expression and
/// the named sub-terms `(name, definition)` in definition order.
#[derive(Debug, Clone, PartialEq)]
pub struct Fragment {
    /// The variable the result is taken with respect to.
    pub wrt: Symbol,
    /// Which derivative it is.
    pub kind: ResultKind,
    /// The left-hand side, such as `\frac{\partial f}{\partial W_1}`.
    pub label: String,
    /// The expression, in LaTeX.
    pub body: String,
    /// The named sub-terms `(name, definition)`, in definition order.
    pub defs: Vec<(String, String)>,
}

impl Fragment {
    /// The result as one math fragment, without math delimiters:
    /// `label = body, \quad \text{where } t_1 = …, \quad t_2 = …`.
    pub fn inline(&self) -> String {
        let mut out = format!("{} = {}", self.label, self.body);
        for (i, (name, def)) in self.defs.iter().enumerate() {
            let lead = if i == 0 { r"\text{where } " } else { "" };
            let _ = write!(out, r", \quad {lead}{name} = {def}");
        }
        out
    }

    /// The result as a display of an amsmath document: `\[ … \]`, or an `align*` with
    /// one line per named sub-term.
    pub fn display(&self) -> String {
        if self.defs.is_empty() {
            return format!("\\[\n  {} = {}\n\\]\n", self.label, self.body);
        }
        let mut out = format!("\\begin{{align*}}\n  {} &= {}", self.label, self.body);
        for (i, (name, def)) in self.defs.iter().enumerate() {
            let lead = if i == 0 { r"\text{where } " } else { "" };
            let _ = write!(out, "\\\\\n  {lead}{name} &= {def}");
        }
        out.push_str("\n\\end{align*}\n");
        out
    }
}

/// The preamble of `--latex-document` (amsmath only).
pub const DOCUMENT_PREAMBLE: &str = "\\documentclass{article}\n\\usepackage{amsmath}\n";

/// A complete amsmath document showing the fragments.
pub fn document(fragments: &[Fragment]) -> String {
    let mut out = format!("% Generated by matdiff.\n{DOCUMENT_PREAMBLE}\\begin{{document}}\n\n");
    for f in fragments {
        out.push_str(&f.display());
        out.push('\n');
    }
    out.push_str("\\end{document}\n");
    out
}

/// An `align*` derivation laid out for a page (`--latex-document`): each justification
/// (`&= e && \text{by …}`) moves under its step, in a paragraph box as wide as the text
/// column that wraps its words, so that long justifications do not overflow the page.
/// (KaTeX has no `\parbox`: fragments keep the two-column form.)
pub fn derivation_for_page(block: &str) -> String {
    let mut out = String::new();
    for line in block.lines() {
        let (body, end) = match line.strip_suffix(r" \\") {
            Some(b) => (b, r" \\"),
            None => (line, ""),
        };
        match body.split_once(" && ") {
            Some((step, why)) => {
                if !step.trim().is_empty() {
                    let _ = writeln!(out, "{step} \\\\");
                }
                let _ = writeln!(
                    out,
                    "  & \\qquad \\parbox[t]{{0.8\\linewidth}}{{\\raggedright\\small {}}}{end}",
                    text_mode(why)
                );
            }
            None => {
                out.push_str(line);
                out.push('\n');
            }
        }
    }
    out
}

/// A math-mode justification (`\text{by … for }L\text{ (…)}`) in text mode, where it can
/// wrap: the `\text{…}` words as text, everything else as inline math (`$L$`).
fn text_mode(math: &str) -> String {
    let mut out = String::new();
    let mut formula = String::new();
    let mut rest = math;
    let flush = |formula: &mut String, out: &mut String| {
        if !formula.trim().is_empty() {
            let _ = write!(out, "${}$", formula.trim());
        }
        formula.clear();
    };
    while !rest.is_empty() {
        if let Some(after) = rest.strip_prefix(r"\text{") {
            // The matching brace (the words may hold balanced braces).
            let mut depth = 1;
            let mut end = after.len();
            for (i, c) in after.char_indices() {
                match c {
                    '{' => depth += 1,
                    '}' => {
                        depth -= 1;
                        if depth == 0 {
                            end = i;
                            break;
                        }
                    }
                    _ => {}
                }
            }
            flush(&mut formula, &mut out);
            out.push_str(&after[..end]);
            rest = after.get(end + 1..).unwrap_or("");
        } else {
            let c = rest.chars().next().unwrap_or(' ');
            formula.push(c);
            rest = &rest[c.len_utf8()..];
        }
    }
    flush(&mut formula, &mut out);
    out
}

/// The results of a run as LaTeX: one fragment per line, or with
/// [`LatexOptions::document`] a complete amsmath document. This is `--format latex`.
pub fn results_to_latex(checked: &Checked, outcome: &Outcome, options: &LatexOptions) -> String {
    let fragments = fragments(checked, outcome, options);
    if options.document {
        document(&fragments)
    } else {
        fragments.iter().map(|f| f.inline() + "\n").collect()
    }
}

/// Every result of a run as a [`Fragment`], in the order of `outcome.derivatives`.
pub fn fragments(checked: &Checked, outcome: &Outcome, options: &LatexOptions) -> Vec<Fragment> {
    let ctx = Context::new(checked, &outcome.directions, options.hadamard);
    outcome
        .derivatives
        .iter()
        .map(|d| {
            let sharing = share(&d.expr, &checked.binding_terms);
            let (body, defs) = with_sharing(&d.expr, &sharing, &ctx);
            let wrt_shape = checked
                .variable(d.wrt.as_str())
                .map_or_else(Shape::scalar, |v| v.shape.clone());
            Fragment {
                wrt: d.wrt,
                kind: d.kind,
                label: label(d.kind, d.wrt.as_str(), &wrt_shape),
                body,
                defs,
            }
        })
        .collect()
}

/// The left-hand side of a result: `\frac{\partial f}{\partial X}`, `\mathrm{d}f`, …
/// The shape of X decides the form of a Hessian: `\partial x^2` for a scalar,
/// `\partial x \, \partial x^\top` for a column, the vec form otherwise.
pub fn label(kind: ResultKind, wrt: &str, wrt_shape: &Shape) -> String {
    let x = name(wrt);
    match kind {
        ResultKind::Gradient | ResultKind::Derivative | ResultKind::Jacobian => {
            format!(r"\frac{{\partial f}}{{\partial {x}}}")
        }
        ResultKind::Differential => r"\mathrm{d}f".into(),
        ResultKind::VecJacobian => {
            format!(
                r"\frac{{\partial \operatorname{{vec}} f}}{{\partial \operatorname{{vec}} {x}}}"
            )
        }
        ResultKind::Hessian if wrt_shape.is_scalar() => {
            format!(r"\frac{{\partial^2 f}}{{\partial {x}^2}}")
        }
        ResultKind::Hessian if wrt_shape.cols.is_one() => {
            format!(r"\frac{{\partial^2 f}}{{\partial {x} \, \partial {x}^\top}}")
        }
        ResultKind::Hessian => format!(
            r"\frac{{\partial^2 f}}{{\partial \operatorname{{vec}} {x} \, \partial (\operatorname{{vec}} {x})^\top}}"
        ),
        ResultKind::SecondDifferential => r"\mathrm{d}^2 f".into(),
    }
}

/// Print an expression with no named sub-terms.
pub fn expr_to_latex(expr: &RecExpr<Math>, ctx: &Context) -> String {
    Printer::new(expr, &Sharing::default(), ctx).root()
}

/// Print an expression and its named sub-terms: the main formula and `(name, definition)`
/// pairs in definition order, names already in LaTeX (`t1` → `t_1`).
pub fn with_sharing(
    expr: &RecExpr<Math>,
    sharing: &Sharing,
    ctx: &Context,
) -> (String, Vec<(String, String)>) {
    let printer = Printer::new(expr, sharing, ctx);
    let defs = sharing
        .order
        .iter()
        .filter_map(|id| {
            let n = sharing.names.get(id)?;
            Some((name(n), printer.write(*id, false).text))
        })
        .collect();
    (printer.root(), defs)
}

// ---------------------------------------------------------------------------------------
// Names and numbers

/// One character of a name as LaTeX: ASCII letters and digits as they are, Greek
/// letters as macros, anything else (never produced by the parser) as its code point.
fn letter(c: char) -> String {
    if c.is_ascii_alphanumeric() {
        return c.to_string();
    }
    match crate::lang::greek::lookup(c) {
        Some(g) => g.latex.to_string(),
        None => format!(r"\mathrm{{U{:04X}}}", c as u32),
    }
}

/// Several characters as one word: a macro followed by a letter is closed with `{}`
/// so that `\alpha` and a following `b` do not run together.
fn word(s: &str) -> String {
    let mut out = String::new();
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        let l = letter(c);
        out.push_str(&l);
        let open_macro = l.starts_with('\\') && !l.ends_with('}');
        if open_macro && chars.peek().is_some_and(|n| n.is_ascii_alphabetic()) {
            out.push_str("{}");
        }
    }
    out
}

/// How a name of several letters is set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Style {
    /// `\mathit{loss}`: a variable.
    Variable,
    /// `\operatorname{act}`: a function.
    Function,
}

/// A variable's name as LaTeX: `W1` → `W_1`, `W_1` → `W_1`, `W12` → `W_{12}`,
/// `W_out` → `W_{\mathrm{out}}`, `x_i_j` → `x_{i,j}`, `σ` → `\sigma`, `Σ` → `\Sigma`,
/// `loss` → `\mathit{loss}`.
pub fn name(name: &str) -> String {
    ident(name, Style::Variable)
}

/// A function's name as LaTeX: `σ` → `\sigma`, `g1` → `g_1`, `act` → `\operatorname{act}`.
pub fn function_name(name: &str) -> String {
    ident(name, Style::Function)
}

fn ident(name: &str, style: Style) -> String {
    let literal = || {
        let w = name.split('_').map(word).collect::<Vec<_>>().join(r"\_");
        match style {
            Style::Variable => format!(r"\mathit{{{w}}}"),
            Style::Function => format!(r"\operatorname{{{w}}}"),
        }
    };
    let (head, rest) = match name.split_once('_') {
        Some((h, r)) => (h, Some(r)),
        None => (name, None),
    };
    let base = head.trim_end_matches(|c: char| c.is_ascii_digit());
    let digits = &head[base.len()..];
    if base.is_empty() {
        return literal();
    }
    let mut subs: Vec<String> = vec![];
    if !digits.is_empty() {
        subs.push(digits.to_string());
    }
    for part in rest.into_iter().flat_map(|r| r.split('_')) {
        if part.is_empty() {
            return literal();
        }
        subs.push(
            if part.chars().all(|c| c.is_ascii_digit()) || part.chars().count() == 1 {
                word(part)
            } else {
                format!(r"\mathrm{{{}}}", word(part))
            },
        );
    }
    let mut out = if base.chars().count() == 1 {
        word(base)
    } else {
        match style {
            Style::Variable => format!(r"\mathit{{{}}}", word(base)),
            Style::Function => format!(r"\operatorname{{{}}}", word(base)),
        }
    };
    match subs.as_slice() {
        [] => {}
        [one] if one.len() == 1 => {
            out.push('_');
            out.push_str(one);
        }
        _ => {
            let _ = write!(out, "_{{{}}}", subs.join(","));
        }
    }
    out
}

/// A dimension as LaTeX: `n` → `n`, `m·p` → `m p`, `2·n` → `2 n`.
pub fn dim(d: &Dim) -> String {
    let mut parts: Vec<String> = vec![];
    if d.coef != 1 || d.syms.is_empty() {
        parts.push(d.coef.to_string());
    }
    parts.extend(d.syms.iter().map(|s| name(s.as_str())));
    parts.join(" ")
}

/// How a number is set: a plain numeral, a fraction, or a power of ten.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum NumberForm {
    Plain,
    Fraction,
    Scientific,
}

/// `n/d` for a number that is a simple fraction (denominator up to 12): 1/2, 2/3. Results
/// keep numbers exact, so a decimal (0.37) is printed only for what no such fraction is,
/// which only a decimal the user wrote gives.
pub(crate) fn simple_fraction(v: f64) -> Option<(i64, i64)> {
    if v.fract() == 0.0 || v.abs() >= 1e6 {
        return None;
    }
    (2..=12i64).find_map(|den| {
        let num = v * den as f64;
        let rounded = num.round();
        ((num - rounded).abs() <= 1e-9 * rounded.abs().max(1.0) && rounded != 0.0)
            .then_some((rounded as i64, den))
    })
}

/// A number as LaTeX: `2`, `0.37`, `\frac{1}{2}` (or `1/3` in an exponent),
/// `1.5 \times 10^{-7}`.
fn number(v: f64, exponent: bool) -> (String, NumberForm) {
    if v.is_nan() {
        return (r"\mathrm{NaN}".into(), NumberForm::Plain);
    }
    if v.is_infinite() {
        let sign = if v < 0.0 { "-" } else { "" };
        return (format!(r"{sign}\infty"), NumberForm::Plain);
    }
    if v.fract() == 0.0 && v.abs() < 1e15 {
        return (format!("{}", v as i64), NumberForm::Plain);
    }
    if let Some((n, d)) = simple_fraction(v) {
        let sign = if n < 0 { "-" } else { "" };
        let n = n.unsigned_abs();
        return if exponent {
            (format!("{sign}{n}/{d}"), NumberForm::Plain)
        } else {
            (format!(r"{sign}\frac{{{n}}}{{{d}}}"), NumberForm::Fraction)
        };
    }
    let plain = format!("{v}");
    if (1e-4..1e15).contains(&v.abs()) && plain.len() <= 18 {
        return (plain, NumberForm::Plain);
    }
    let sci = format!("{v:e}");
    let (mantissa, exp) = sci.split_once('e').unwrap_or((sci.as_str(), "0"));
    let text = match mantissa {
        "1" => format!("10^{{{exp}}}"),
        "-1" => format!("-10^{{{exp}}}"),
        m => format!(r"{m} \times 10^{{{exp}}}"),
    };
    (text, NumberForm::Scientific)
}

mod printer;

use printer::Printer;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lang::dims::Dim;
    use egg::{FromOp, Id};

    fn shapes(vars: &[(&str, &str, &str)]) -> BTreeMap<Symbol, Shape> {
        vars.iter()
            .map(|(v, r, c)| {
                (
                    Symbol::from(*v),
                    Shape::new(r.parse::<Dim>().unwrap(), c.parse::<Dim>().unwrap()),
                )
            })
            .collect()
    }

    fn ctx() -> Context {
        Context {
            var_shapes: shapes(&[
                ("A", "n", "n"),
                ("B", "n", "n"),
                ("X", "m", "n"),
                ("Y", "m", "n"),
                ("W1", "m", "n"),
                ("W2", "m", "1"),
                ("x", "n", "1"),
                ("y", "n", "1"),
                ("a", "n", "1"),
                ("b", "n", "1"),
                ("α", "1", "1"),
                ("dX", "m", "n"),
            ]),
            directions: [(Symbol::from("dX"), Symbol::from("X"))]
                .into_iter()
                .collect(),
            hadamard: HadamardSymbol::Odot,
        }
    }

    /// The LaTeX of an s-expression.
    fn tex(sexpr: &str) -> String {
        let expr: RecExpr<Math> = sexpr.parse().unwrap_or_else(|e| panic!("{sexpr}: {e}"));
        expr_to_latex(&expr, &ctx())
    }

    #[test]
    fn names_get_subscripts_and_greek_macros() {
        let cases = [
            ("W1", "W_1"),
            ("W_1", "W_1"),
            ("x2", "x_2"),
            ("W12", "W_{12}"),
            ("W_12", "W_{12}"),
            ("x_k", "x_k"),
            ("x_i_j", "x_{i,j}"),
            ("W1_a", "W_{1,a}"),
            ("W_out", r"W_{\mathrm{out}}"),
            ("σ", r"\sigma"),
            ("Σ", r"\Sigma"),
            ("α2", r"\alpha_2"),
            ("x_σ", r"x_{\sigma}"),
            ("Α", r"\mathrm{A}"),
            ("ε", r"\varepsilon"),
            ("ϵ", r"\epsilon"),
            ("φ", r"\varphi"),
            ("ϕ", r"\phi"),
            ("loss", r"\mathit{loss}"),
            ("αβ", r"\mathit{\alpha\beta}"),
            ("αb", r"\mathit{\alpha{}b}"),
            ("x_", r"\mathit{x\_}"),
            ("x__1", r"\mathit{x\_\_1}"),
            ("A", "A"),
        ];
        for (input, want) in cases {
            assert_eq!(name(input), want, "{input}");
        }
        assert_eq!(function_name("act"), r"\operatorname{act}");
        assert_eq!(function_name("g1"), "g_1");
        assert_eq!(function_name("σ"), r"\sigma");
    }

    #[test]
    fn numbers() {
        let cases = [
            (2.0, "2"),
            (-3.0, "-3"),
            (0.5, r"\frac{1}{2}"),
            (0.37, "0.37"),
            (0.001, "0.001"),
            (1.0 / 3.0, r"\frac{1}{3}"),
            (-2.0 / 3.0, r"-\frac{2}{3}"),
            (1e-5, "10^{-5}"),
            (1.5e-7, r"1.5 \times 10^{-7}"),
            (1e20, "10^{20}"),
            (f64::INFINITY, r"\infty"),
            (f64::NAN, r"\mathrm{NaN}"),
        ];
        for (v, want) in cases {
            assert_eq!(number(v, false).0, want, "{v}");
        }
        assert_eq!(number(1.0 / 3.0, true).0, "1/3");
    }

    #[test]
    fn design_example() {
        // ((∇L(σ(W1 x) ∘ W2) ∘ W2) ∘ σ'(W1 x)) xᵀ
        assert_eq!(
            tex("(* (∘ (∘ (grad @L (∘ (ew @σ (* W1 x)) W2)) W2) (ew @σ' (* W1 x))) (T x))"),
            r"\Bigl(\nabla L\bigl(\sigma(W_1 x) \odot W_2\bigr) \odot W_2 \odot \sigma'(W_1 x)\Bigr) x^\top"
        );
    }

    #[test]
    fn every_node() {
        let cases = [
            ("(+ a b)", "a + b"),
            ("(- a b)", "a - b"),
            ("(neg a)", "-a"),
            ("(* A x)", "A x"),
            ("(/ x α)", r"\frac{x}{\alpha}"),
            ("(∘ a b)", r"a \odot b"),
            ("(⊘ a b)", r"a \oslash b"),
            ("(⊗ A B)", r"A \otimes B"),
            ("(T X)", r"X^\top"),
            ("(H X)", r"X^{\mathsf{H}}"),
            ("(inv A)", "A^{-1}"),
            ("(pow A 3)", "A^{3}"),
            ("(pow α β)", r"\alpha^{\beta}"),
            ("(pow α 0.5)", r"\alpha^{1/2}"),
            ("(epow X 2)", r"X^{\circ 2}"),
            ("(ew @σ x)", r"\sigma(x)"),
            ("(ew @σ' x)", r"\sigma'(x)"),
            ("(ew @σ'' x)", r"\sigma''(x)"),
            ("(ew @σ'''' x)", r"\sigma^{(4)}(x)"),
            ("(ew @exp x)", r"\exp(x)"),
            ("(ew @log x)", r"\log(x)"),
            ("(ew @tanh x)", r"\tanh(x)"),
            ("(ew @sqrt x)", r"\sqrt{x}"),
            ("(ew @abs x)", r"\lvert x\rvert"),
            ("(ew @relu x)", r"\operatorname{ReLU}(x)"),
            ("(ew @sigmoid x)", r"\operatorname{sigmoid}(x)"),
            ("(ew @sign x)", r"\operatorname{sign}(x)"),
            ("(ew @softplus x)", r"\operatorname{softplus}(x)"),
            ("(ew @act x)", r"\operatorname{act}(x)"),
            ("(apply @L x)", "L(x)"),
            ("(grad @L x)", r"\nabla L(x)"),
            ("(hess @L x)", r"\nabla^2 L(x)"),
            ("(tr A)", r"\operatorname{tr}(A)"),
            ("(det A)", r"\det(A)"),
            ("(logdet A)", r"\log\bigl\lvert\det(A)\bigr\rvert"),
            ("(sum X)", r"\operatorname{sum}(X)"),
            ("(norm x)", r"\lVert x\rVert"),
            ("(norm X)", r"\lVert X\rVert_F"),
            ("(norm1 x)", r"\lVert x\rVert_1"),
            ("(logsumexp x)", r"\operatorname{logsumexp}(x)"),
            ("(diag x)", r"\operatorname{diag}(x)"),
            ("(vec X)", r"\operatorname{vec}(X)"),
            ("(softmax x)", r"\operatorname{softmax}(x)"),
            ("(conj X)", r"\overline{X}"),
            ("(real X)", r"\operatorname{Re}(X)"),
            ("(imag X)", r"\operatorname{Im}(X)"),
            ("(commutation X)", "K_{m,n}"),
            ("zeros[m,n]", "0"),
            ("ones[n,1]", r"\mathbf{1}"),
            ("I[n,n]", "I"),
            ("I[1,1]", "1"),
            ("ones[1,1]", "1"),
            ("2.5", r"\frac{5}{2}"),
            ("dX", r"\mathrm{d}X"),
            ("@σ", r"\sigma"),
            ("(vjp 1 (tr X) X)", r"\nabla_{X} \operatorname{tr}(X)"),
            ("(jvp x x y)", r"\operatorname{jvp}(x, x, y)"),
            ("(coef x x)", r"\operatorname{coef}(x, x)"),
            ("(unb x a)", r"\operatorname{unb}(x, a)"),
            ("(zeros-like x)", r"\operatorname{zeros\_like}(x)"),
            ("(ones-like x)", r"\operatorname{ones\_like}(x)"),
            ("(eye-like x)", r"\operatorname{eye\_like}(x)"),
            ("(d @σ)", r"\sigma'"),
        ];
        for (input, want) in cases {
            assert_eq!(tex(input), want, "{input}");
        }
    }

    #[test]
    fn precedence_and_parentheses() {
        let cases = [
            // Sums are left-associative.
            ("(- (- a b) y)", "a - b - y"),
            ("(- a (- b y))", "a - (b - y)"),
            ("(+ a (+ b y))", "a + (b + y)"),
            ("(- a (neg b))", "a - (-b)"),
            ("(+ a (neg b))", "a + (-b)"),
            // Products bind tighter than ⊙, which binds tighter than +.
            ("(∘ (* A x) (* B y))", r"A x \odot B y"),
            ("(* (∘ a b) (T y))", r"(a \odot b) y^\top"),
            ("(* (+ A B) x)", "(A + B) x"),
            ("(* A (* B x))", "A (B x)"),
            ("(* (* A B) x)", "A B x"),
            ("(∘ a (∘ b y))", r"a \odot (b \odot y)"),
            ("(∘ (+ a b) y)", r"(a + b) \odot y"),
            ("(∘ a (neg b))", r"a \odot (-b)"),
            // Different element-wise operators are grouped.
            ("(∘ (⊘ a b) y)", r"(a \oslash b) \odot y"),
            ("(⊗ (∘ A B) A)", r"(A \odot B) \otimes A"),
            // Postfix operators need an atom without a superscript.
            ("(T (* A B))", r"(A B)^\top"),
            ("(T (T X))", r"(X^\top)^\top"),
            ("(pow (T A) 2)", r"(A^\top)^{2}"),
            ("(T (neg X))", r"(-X)^\top"),
            ("(T (inv A))", r"A^{-\top}"),
            ("(inv (T A))", r"A^{-\top}"),
            ("(inv (H A))", r"A^{-\mathsf{H}}"),
            ("(H (inv A))", r"A^{-\mathsf{H}}"),
            ("(inv (pow A 2))", "A^{-2}"),
            ("(T (/ x α))", r"\left(\frac{x}{\alpha}\right)^\top"),
            ("(pow (ew @σ α) 2)", r"\sigma(\alpha)^{2}"),
            ("(pow (norm x) 2)", r"\lVert x\rVert^{2}"),
            ("(pow -2 α)", r"(-2)^{\alpha}"),
            // Negation.
            ("(neg (* A x))", "-A x"),
            ("(neg (∘ a b))", r"-a \odot b"),
            ("(neg (+ a b))", "-(a + b)"),
            ("(neg (neg a))", "-(-a)"),
            ("(* (neg (+ a b)) α)", r"-(a + b) \alpha"),
            ("(* (neg A) x)", "-A x"),
            ("(* A (neg x))", "A (-x)"),
            ("(* (neg (∘ a b)) α)", r"(-a \odot b) \alpha"),
            // Fractions.
            (
                "(/ (- (* A x) b) (norm (- (* A x) b)))",
                r"\frac{A x - b}{\lVert A x - b\rVert}",
            ),
            (
                "(* (+ a (/ x α)) α)",
                r"\left(a + \frac{x}{\alpha}\right) \alpha",
            ),
            ("(* A (/ x α))", r"A \frac{x}{\alpha}"),
            ("(neg (/ x α))", r"-\frac{x}{\alpha}"),
        ];
        for (input, want) in cases {
            assert_eq!(tex(input), want, "{input}");
        }
    }

    #[test]
    fn products_and_spacing() {
        let cases = [
            ("(* x 2)", "2 x"),
            ("(* (+ a b) 2)", "2 (a + b)"),
            ("(* 2 3)", r"2 \cdot 3"),
            ("(* A (pow 2 α))", r"A \cdot 2^{\alpha}"),
            ("(* (tr A) I[n,n])", r"\operatorname{tr}(A) \, I"),
            ("(* (det A) (inv A))", r"\det(A) \, A^{-1}"),
            ("(* (inv A) (det A))", r"A^{-1} \det(A)"),
            (
                "(* (diag x) (diag x))",
                r"\operatorname{diag}(x) \operatorname{diag}(x)",
            ),
            (
                "(* (tr A) (ew @exp α))",
                r"\operatorname{tr}(A) \exp(\alpha)",
            ),
            (
                "(* (ew @σ α) (logdet A))",
                r"\sigma(\alpha) \log\bigl\lvert\det(A)\bigr\rvert",
            ),
            ("(* x (ew @σ α))", r"x \, \sigma(\alpha)"),
            ("(* x (grad @L x))", r"x \, \nabla L(x)"),
            ("(* (norm x) x)", r"\lVert x\rVert \, x"),
            ("(* (T x) x)", r"x^\top x"),
            ("(* (* 2 (tr X)) X)", r"2 \operatorname{tr}(X) \, X"),
            ("(* 0.5 (* (T x) x))", r"\frac{1}{2} (x^\top x)"),
            (
                "(* (* (neg (inv X)) dX) (inv X))",
                r"-X^{-1} \, \mathrm{d}X \, X^{-1}",
            ),
            ("(* (T dX) X)", r"\mathrm{d}X^\top \, X"),
            (
                "(* (* (neg (inv X)) dX) (inv X))",
                r"-X^{-1} \, \mathrm{d}X \, X^{-1}",
            ),
            ("(* (T dX) X)", r"\mathrm{d}X^\top \, X"),
        ];
        for (input, want) in cases {
            assert_eq!(tex(input), want, "{input}");
        }
    }

    #[test]
    fn brackets_grow_with_nesting_and_fit_fractions() {
        assert_eq!(
            tex("(ew @σ (* W1 (ew @σ x)))"),
            r"\sigma\bigl(W_1 \, \sigma(x)\bigr)"
        );
        assert_eq!(
            tex("(ew @σ (ew @σ (ew @σ x)))"),
            r"\sigma\Bigl(\sigma\bigl(\sigma(x)\bigr)\Bigr)"
        );
        assert_eq!(
            tex("(norm (+ x (ew @σ x)))"),
            r"\bigl\lVert x + \sigma(x)\bigr\rVert"
        );
        assert_eq!(
            tex("(ew @σ (/ x α))"),
            r"\sigma\left(\frac{x}{\alpha}\right)"
        );
        assert_eq!(tex("(ew @sqrt (/ x α))"), r"\sqrt{\frac{x}{\alpha}}");
        assert_eq!(
            tex("(ew @abs (/ x α))"),
            r"\left\lvert \frac{x}{\alpha}\right\rvert"
        );
    }

    #[test]
    fn hadamard_symbol_option() {
        let expr: RecExpr<Math> = "(∘ a b)".parse().unwrap();
        let c = Context {
            hadamard: HadamardSymbol::Circ,
            ..ctx()
        };
        assert_eq!(expr_to_latex(&expr, &c), r"a \circ b");
    }

    #[test]
    fn sharing_prints_names_and_where() {
        // A, B, A B, tr(A B), tr(A B) tr(A B), … + tr(A B): one shared node.
        let nodes = vec![
            Math::Var(Symbol::from("A")),
            Math::Var(Symbol::from("B")),
            Math::Mul([Id::from(0), Id::from(1)]),
            Math::Trace([Id::from(2)]),
            Math::Mul([Id::from(3), Id::from(3)]),
            Math::Add([Id::from(4), Id::from(3)]),
        ];
        let expr = RecExpr::from(nodes);
        let mut sharing = Sharing::default();
        let id = Id::from(3);
        sharing.names.insert(id, "t1".into());
        sharing.order.push(id);
        let (main, defs) = with_sharing(&expr, &sharing, &ctx());
        assert_eq!(main, "t_1 t_1 + t_1");
        assert_eq!(
            defs,
            vec![("t_1".to_string(), r"\operatorname{tr}(A B)".to_string())]
        );
    }

    #[test]
    fn commutation_of_products_of_sizes() {
        let c = Context {
            var_shapes: shapes(&[("Z", "m·p", "2·n")]),
            ..Context::default()
        };
        let expr: RecExpr<Math> = "(commutation Z)".parse().unwrap();
        assert_eq!(expr_to_latex(&expr, &c), "K_{m p,2 n}");
        // Without shapes, a call.
        let expr: RecExpr<Math> = "(commutation Q)".parse().unwrap();
        assert_eq!(
            expr_to_latex(&expr, &Context::default()),
            r"\operatorname{commutation}(Q)"
        );
    }

    #[test]
    fn labels() {
        use ResultKind::*;
        let matrix = Shape::new(Dim::sym("m"), Dim::sym("n"));
        let column = Shape::column(Dim::sym("n"));
        let scalar = Shape::scalar();
        let cases = [
            (Gradient, "W1", &matrix, r"\frac{\partial f}{\partial W_1}"),
            (
                Derivative,
                "α",
                &scalar,
                r"\frac{\partial f}{\partial \alpha}",
            ),
            (Jacobian, "x", &column, r"\frac{\partial f}{\partial x}"),
            (Differential, "X", &matrix, r"\mathrm{d}f"),
            (
                VecJacobian,
                "X",
                &matrix,
                r"\frac{\partial \operatorname{vec} f}{\partial \operatorname{vec} X}",
            ),
            (
                Hessian,
                "x",
                &column,
                r"\frac{\partial^2 f}{\partial x \, \partial x^\top}",
            ),
            (
                Hessian,
                "α",
                &scalar,
                r"\frac{\partial^2 f}{\partial \alpha^2}",
            ),
            (
                Hessian,
                "X",
                &matrix,
                r"\frac{\partial^2 f}{\partial \operatorname{vec} X \, \partial (\operatorname{vec} X)^\top}",
            ),
            (SecondDifferential, "X", &matrix, r"\mathrm{d}^2 f"),
        ];
        for (kind, wrt, shape, want) in cases {
            assert_eq!(label(kind, wrt, shape), want, "{kind:?}");
        }
    }

    #[test]
    fn fragments_inline_and_display() {
        let f = Fragment {
            wrt: Symbol::from("x"),
            kind: ResultKind::Gradient,
            label: r"\frac{\partial f}{\partial x}".into(),
            body: "t_1 + t_2".into(),
            defs: vec![("t_1".into(), "a".into()), ("t_2".into(), "b".into())],
        };
        assert_eq!(
            f.inline(),
            r"\frac{\partial f}{\partial x} = t_1 + t_2, \quad \text{where } t_1 = a, \quad t_2 = b"
        );
        assert_eq!(
            f.display(),
            "\\begin{align*}\n  \\frac{\\partial f}{\\partial x} &= t_1 + t_2\\\\\n  \\text{where } t_1 &= a\\\\\n  t_2 &= b\n\\end{align*}\n"
        );
        let plain = Fragment { defs: vec![], ..f };
        assert_eq!(
            plain.display(),
            "\\[\n  \\frac{\\partial f}{\\partial x} = t_1 + t_2\n\\]\n"
        );
        let doc = document(&[plain]);
        assert!(doc.starts_with(
            "% Generated by matdiff.\n\\documentclass{article}\n\\usepackage{amsmath}\n"
        ));
        assert!(doc.ends_with("\\end{document}\n"));
    }

    #[test]
    fn results_of_a_run() {
        let src = "x : R^n; W1 : R^(m×n); W2 : R^m\nh = σ(W1 x)\nL(h ∘ W2)";
        let checked = crate::check_program(src).unwrap_or_else(|d| panic!("{}", d.render(src)));
        let analysis = crate::lang::MathAnalysis::new(
            checked
                .variables
                .iter()
                .map(|v| (Symbol::from(v.name.as_str()), v.shape.clone()))
                .collect(),
        );
        let outcome = crate::engine::gradients(
            &checked.expr,
            &analysis,
            &[Symbol::from("W1"), Symbol::from("W2")],
            &crate::engine::Limits::default(),
        )
        .unwrap();
        let out = results_to_latex(&checked, &outcome, &LatexOptions::default());
        assert_eq!(
            out,
            "\\frac{\\partial f}{\\partial W_1} = \\bigl(\\nabla L(h \\odot W_2) \\odot W_2 \\odot \\sigma'(W_1 x)\\bigr) x^\\top, \\quad \\text{where } h = \\sigma(W_1 x)\n\
             \\frac{\\partial f}{\\partial W_2} = \\nabla L(h \\odot W_2) \\odot h, \\quad \\text{where } h = \\sigma(W_1 x)\n"
        );
        let doc = results_to_latex(
            &checked,
            &outcome,
            &LatexOptions {
                document: true,
                ..LatexOptions::default()
            },
        );
        assert!(doc.contains("\\begin{align*}\n  \\frac{\\partial f}{\\partial W_1} &= "));
    }

    #[test]
    fn no_panic_on_odd_input() {
        let c = Context::default();
        for s in [
            "x",
            "(T @σ)",
            "(ew x x)",
            "(grad (T x) x)",
            "(commutation @σ)",
            "(pow x (neg y))",
        ] {
            let expr: RecExpr<Math> = s.parse().unwrap();
            let _ = expr_to_latex(&expr, &c);
        }
        assert_eq!(expr_to_latex(&RecExpr::default(), &c), "");
    }

    /// Random expressions of every node kind (ill-shaped ones too): no panic, balanced
    /// braces and `\left`/`\right`, ASCII only.
    #[test]
    fn random_expressions_print_well_formed() {
        let mut seed: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut next = |n: usize| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            (seed % n as u64) as usize
        };
        let ctx = ctx();
        let leaves = [
            "x",
            "A",
            "X",
            "dX",
            "α",
            "W1",
            "σ",
            "2",
            "-3",
            "0.25",
            "1e-9",
            "zeros[n,1]",
            "ones[n,1]",
            "I[n,n]",
            "@σ",
            "@L",
            "@exp'",
        ];
        let unary = [
            "neg",
            "T",
            "H",
            "inv",
            "tr",
            "det",
            "logdet",
            "sum",
            "norm",
            "norm1",
            "logsumexp",
            "diag",
            "vec",
            "softmax",
            "conj",
            "real",
            "imag",
            "commutation",
            "zeros-like",
            "ones-like",
            "eye-like",
            "ncols",
            "d",
        ];
        let binary = [
            "+", "-", "*", "/", "∘", "⊘", "⊗", "pow", "epow", "ew", "apply", "grad", "hess",
            "coef", "unb",
        ];
        let ternary = ["vjp", "jvp"];
        for _ in 0..3000 {
            let mut nodes: Vec<Math> = vec![];
            for _ in 0..(1 + next(12)) {
                let n = nodes.len();
                let kid = |r: usize| Id::from(r % n.max(1));
                let text = if n == 0 || next(4) == 0 {
                    leaves[next(leaves.len())].to_string()
                } else {
                    String::new()
                };
                let node = if !text.is_empty() {
                    Math::from_op(&text, vec![]).unwrap()
                } else {
                    let (op, arity) = match next(3) {
                        0 => (unary[next(unary.len())], 1),
                        1 => (binary[next(binary.len())], 2),
                        _ => (ternary[next(ternary.len())], 3),
                    };
                    let kids = (0..arity).map(|_| kid(next(n))).collect();
                    Math::from_op(op, kids).unwrap()
                };
                nodes.push(node);
            }
            let expr = RecExpr::from(nodes);
            let tex = expr_to_latex(&expr, &ctx);
            let opens = tex.matches('{').count() - tex.matches(r"\{").count();
            let closes = tex.matches('}').count() - tex.matches(r"\}").count();
            assert_eq!(opens, closes, "{expr}: {tex}");
            assert_eq!(
                tex.matches(r"\left").count(),
                tex.matches(r"\right").count(),
                "{expr}: {tex}"
            );
            assert!(tex.is_ascii(), "{expr}: {tex}");
        }
    }
}
