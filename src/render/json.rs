//! The JSON printer (LANGUAGE.md §3, `--format json`): the results of a run with their
//! kinds, shapes, text and LaTeX forms, named sub-terms and the engine's report, for
//! tools. Written by hand: a small value type and a pretty printer with JSON string
//! escaping (RFC 8259).

use super::latex::{self, Context, LatexOptions};
use super::{share, text};
use crate::engine::{Outcome, ResultKind, StageReport};
use crate::lang::dims::{Dim, Kind, Shape};
use crate::lang::Math;
use crate::Checked;
use egg::{RecExpr, Symbol};
use std::fmt::Write as _;

/// A JSON value. Objects keep their keys in the order given.
#[derive(Debug, Clone, PartialEq)]
pub enum Json {
    /// `null`.
    Null,
    /// `true` or `false`.
    Bool(bool),
    /// A finite number (non-finite ones are written as `null`).
    Number(f64),
    /// An integer, written exactly.
    Int(u64),
    /// A string, escaped as JSON requires.
    String(String),
    /// An array, in order.
    Array(Vec<Json>),
    /// An object: keys and values in the order given.
    Object(Vec<(String, Json)>),
}

impl Json {
    /// A JSON string.
    pub fn str(s: impl Into<String>) -> Json {
        Json::String(s.into())
    }

    /// A JSON object with these fields, in this order.
    pub fn object<K: Into<String>>(fields: impl IntoIterator<Item = (K, Json)>) -> Json {
        Json::Object(fields.into_iter().map(|(k, v)| (k.into(), v)).collect())
    }

    /// Pretty-printed with two-space indentation, ending without a newline.
    pub fn pretty(&self) -> String {
        let mut out = String::new();
        self.write(&mut out, 0);
        out
    }

    fn write(&self, out: &mut String, indent: usize) {
        match self {
            Json::Null => out.push_str("null"),
            Json::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            Json::Number(v) if v.is_finite() => {
                let _ = write!(out, "{v}");
            }
            Json::Number(_) => out.push_str("null"),
            Json::Int(n) => {
                let _ = write!(out, "{n}");
            }
            Json::String(s) => escape_into(out, s),
            Json::Array(items) if items.is_empty() => out.push_str("[]"),
            Json::Object(fields) if fields.is_empty() => out.push_str("{}"),
            Json::Array(items) => {
                // Arrays of scalars stay on one line: `["m", "n"]`.
                if items
                    .iter()
                    .all(|i| !matches!(i, Json::Array(_) | Json::Object(_)))
                {
                    out.push('[');
                    for (i, item) in items.iter().enumerate() {
                        if i > 0 {
                            out.push_str(", ");
                        }
                        item.write(out, indent);
                    }
                    out.push(']');
                    return;
                }
                out.push_str("[\n");
                for (i, item) in items.iter().enumerate() {
                    push_indent(out, indent + 1);
                    item.write(out, indent + 1);
                    out.push_str(if i + 1 < items.len() { ",\n" } else { "\n" });
                }
                push_indent(out, indent);
                out.push(']');
            }
            Json::Object(fields) => {
                out.push_str("{\n");
                for (i, (key, value)) in fields.iter().enumerate() {
                    push_indent(out, indent + 1);
                    escape_into(out, key);
                    out.push_str(": ");
                    value.write(out, indent + 1);
                    out.push_str(if i + 1 < fields.len() { ",\n" } else { "\n" });
                }
                push_indent(out, indent);
                out.push('}');
            }
        }
    }
}

fn push_indent(out: &mut String, level: usize) {
    for _ in 0..level {
        out.push_str("  ");
    }
}

/// `s` as a JSON string literal: quotes, backslashes and control characters escaped,
/// U+2028 and U+2029 too (JavaScript string literals reject them); other characters are
/// kept as UTF-8.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    escape_into(&mut out, s);
    out
}

fn escape_into(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            c if (c as u32) < 0x20 || c == '\u{2028}' || c == '\u{2029}' => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// A dimension for tools: `"n"`, `"3"`, `"m*p"`, `"2*n"`.
pub fn dim_string(d: &Dim) -> String {
    let mut parts: Vec<String> = vec![];
    if d.coef != 1 || d.syms.is_empty() {
        parts.push(d.coef.to_string());
    }
    parts.extend(d.syms.iter().map(|s| s.to_string()));
    parts.join("*")
}

/// `[rows, cols]`.
fn shape_json(s: &Shape) -> Json {
    Json::Array(vec![
        Json::str(dim_string(&s.rows)),
        Json::str(dim_string(&s.cols)),
    ])
}

fn kind_name(k: Kind) -> &'static str {
    match k {
        Kind::Scalar => "scalar",
        Kind::Vector => "vector",
        Kind::Matrix => "matrix",
    }
}

/// The name of a result kind in JSON: `gradient`, `vec_jacobian`, ….
pub fn result_kind_name(k: ResultKind) -> &'static str {
    match k {
        ResultKind::Gradient => "gradient",
        ResultKind::Derivative => "derivative",
        ResultKind::Jacobian => "jacobian",
        ResultKind::Differential => "differential",
        ResultKind::VecJacobian => "vec_jacobian",
        ResultKind::Hessian => "hessian",
        ResultKind::SecondDifferential => "second_differential",
    }
}

/// The shape of a result from the shapes of f and X (LANGUAGE.md §2).
pub fn result_shape(kind: ResultKind, f: &Shape, x: &Shape) -> Shape {
    let size = |s: &Shape| s.rows.times(&s.cols);
    match kind {
        ResultKind::Gradient => x.clone(),
        ResultKind::Derivative | ResultKind::Differential => f.clone(),
        ResultKind::Jacobian | ResultKind::VecJacobian => Shape::new(size(f), size(x)),
        ResultKind::Hessian => Shape::new(size(x), size(x)),
        ResultKind::SecondDifferential => Shape::scalar(),
    }
}

/// An expression's text and LaTeX with its named sub-terms, as JSON fields.
fn forms(expr: &RecExpr<Math>, checked: &Checked, ctx: &Context) -> (Json, Json, Json) {
    // With the variables, as the text output: zeros print with their shapes (`0 x`).
    let sharing = share(expr, &checked.binding_terms).with_variables(
        checked
            .variables
            .iter()
            .map(|v| (v.shape.clone(), v.name.clone())),
    );
    let (main_text, defs_text) = text::with_sharing(expr, &sharing);
    let (main_tex, defs_tex) = latex::with_sharing(expr, &sharing, ctx);
    let defs = defs_text
        .into_iter()
        .zip(defs_tex)
        .map(|((name, text), (name_tex, tex))| {
            Json::object([
                ("name", Json::str(name)),
                ("name_latex", Json::str(name_tex)),
                ("text", Json::str(text)),
                ("latex", Json::str(tex)),
            ])
        })
        .collect();
    (Json::str(main_text), Json::str(main_tex), Json::Array(defs))
}

fn stage_json(r: &StageReport) -> Json {
    Json::object([
        ("stage", Json::str(r.stage)),
        ("stop_reason", Json::str(r.stop_reason.clone())),
        ("iterations", Json::Int(r.iterations as u64)),
        ("nodes", Json::Int(r.nodes as u64)),
        ("classes", Json::Int(r.classes as u64)),
        ("seconds", Json::Number(r.seconds)),
    ])
}

/// The results of a run as a JSON document (`--format json`; the schema is in the
/// README). Ends with a newline.
pub fn results_to_json(checked: &Checked, outcome: &Outcome, options: &LatexOptions) -> String {
    results_value(checked, outcome, options).pretty() + "\n"
}

/// The results of a run as a [`Json`] value.
pub fn results_value(checked: &Checked, outcome: &Outcome, options: &LatexOptions) -> Json {
    let ctx = Context::new(checked, &outcome.directions, options.hadamard);
    let fragments = latex::fragments(checked, outcome, options);
    let (f_text, f_tex, f_where) = forms(&checked.expr, checked, &ctx);
    let expression = Json::object([
        ("text", f_text),
        ("latex", f_tex),
        ("where", f_where),
        ("shape", shape_json(&checked.shape)),
        ("kind", Json::str(kind_name(checked.kind))),
        ("real", Json::Bool(outcome.f_real)),
    ]);
    let variables = checked
        .variables
        .iter()
        .map(|v| {
            Json::object([
                ("name", Json::str(v.name.clone())),
                ("latex", Json::str(latex::name(&v.name))),
                ("shape", shape_json(&v.shape)),
                ("kind", Json::str(kind_name(v.kind))),
                ("complex", Json::Bool(v.complex)),
            ])
        })
        .collect();
    let results = outcome
        .derivatives
        .iter()
        .zip(&fragments)
        .map(|(d, fragment)| {
            let var = checked.variable(d.wrt.as_str());
            let wrt_shape = var.map_or_else(Shape::scalar, |v| v.shape.clone());
            let shape = var.map(|v| result_shape(d.kind, &checked.shape, &v.shape));
            let (text, _, where_) = forms(&d.expr, checked, &ctx);
            let direction = match d.kind {
                ResultKind::Differential | ResultKind::SecondDifferential => outcome
                    .directions
                    .iter()
                    .find(|(x, _)| *x == d.wrt)
                    .map_or(Json::Null, |(_, dx): &(Symbol, Symbol)| {
                        Json::str(dx.to_string())
                    }),
                _ => Json::Null,
            };
            Json::object([
                ("wrt", Json::str(d.wrt.to_string())),
                ("wrt_latex", Json::str(latex::name(d.wrt.as_str()))),
                ("kind", Json::str(result_kind_name(d.kind))),
                ("shape", shape.as_ref().map_or(Json::Null, shape_json)),
                (
                    "label",
                    Json::object([
                        (
                            "text",
                            Json::str(super::text::label(d.kind, d.wrt.as_str(), &wrt_shape)),
                        ),
                        ("latex", Json::str(fragment.label.clone())),
                    ]),
                ),
                ("text", text),
                ("latex", Json::str(fragment.body.clone())),
                ("where", where_),
                ("fragment", Json::str(fragment.inline())),
                ("direction", direction),
            ])
        })
        .collect();
    Json::object([
        ("matdiff", Json::str(env!("CARGO_PKG_VERSION"))),
        ("expression", expression),
        ("variables", Json::Array(variables)),
        ("results", Json::Array(results)),
        (
            "engine",
            Json::object([(
                "stages",
                Json::Array(outcome.reports.iter().map(stage_json).collect()),
            )]),
        ),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping() {
        assert_eq!(escape("a"), "\"a\"");
        assert_eq!(escape("\"\\"), r#""\"\\""#);
        assert_eq!(escape("\\frac{a}{b}"), r#""\\frac{a}{b}""#);
        assert_eq!(escape("x\ny\tz\r"), r#""x\ny\tz\r""#);
        assert_eq!(escape("\u{0}\u{1f}\u{8}\u{c}"), r#""\u0000\u001f\b\f""#);
        assert_eq!(escape("σ ∘ ∇L"), "\"σ ∘ ∇L\"");
        assert_eq!(escape("\u{2028}\u{2029}"), r#""\u2028\u2029""#);
        assert_eq!(escape("\u{7f}"), "\"\u{7f}\"");
    }

    #[test]
    fn values() {
        let v = Json::object([
            ("a", Json::Array(vec![Json::str("m"), Json::str("n")])),
            ("b", Json::Array(vec![])),
            ("c", Json::object::<&str>([])),
            ("d", Json::Number(0.5)),
            ("e", Json::Number(f64::NAN)),
            ("f", Json::Int(3)),
            ("g", Json::Null),
            ("h", Json::Bool(true)),
            ("i", Json::Array(vec![Json::object([("x", Json::Int(1))])])),
        ]);
        assert_eq!(
            v.pretty(),
            "{\n  \"a\": [\"m\", \"n\"],\n  \"b\": [],\n  \"c\": {},\n  \"d\": 0.5,\n  \"e\": null,\n  \"f\": 3,\n  \"g\": null,\n  \"h\": true,\n  \"i\": [\n    {\n      \"x\": 1\n    }\n  ]\n}"
        );
    }

    #[test]
    fn dims_and_shapes() {
        let d: Dim = "m·p".parse().unwrap();
        assert_eq!(dim_string(&d), "m*p");
        assert_eq!(dim_string(&Dim::lit(3)), "3");
        assert_eq!(dim_string(&Dim::lit(2).times(&Dim::sym("n"))), "2*n");
        let f = Shape::new(Dim::sym("m"), Dim::one());
        let x = Shape::new(Dim::sym("n"), Dim::sym("k"));
        use ResultKind::*;
        assert_eq!(result_shape(Gradient, &Shape::scalar(), &x), x);
        assert_eq!(
            result_shape(Jacobian, &f, &Shape::scalar()).to_string(),
            "m×1"
        );
        assert_eq!(result_shape(VecJacobian, &f, &x).to_string(), "m×k·n");
        assert_eq!(
            result_shape(Hessian, &Shape::scalar(), &x).to_string(),
            "k·n×k·n"
        );
        assert_eq!(result_shape(Derivative, &f, &Shape::scalar()), f);
        assert_eq!(
            result_shape(SecondDifferential, &Shape::scalar(), &x),
            Shape::scalar()
        );
    }

    #[test]
    fn labels() {
        use ResultKind::*;
        let matrix = Shape::new(Dim::sym("m"), Dim::sym("n"));
        let column = Shape::column(Dim::sym("n"));
        assert_eq!(
            crate::render::text::label(Gradient, "W1", &matrix),
            "∂f/∂W1"
        );
        assert_eq!(
            crate::render::text::label(Hessian, "x", &column),
            "∂²f/∂x∂xᵀ"
        );
        assert_eq!(
            crate::render::text::label(Hessian, "α", &Shape::scalar()),
            "∂²f/∂α²"
        );
        assert_eq!(
            crate::render::text::label(Hessian, "X", &matrix),
            "∂²f/∂vec(X)∂vec(X)ᵀ"
        );
        assert_eq!(
            crate::render::text::label(VecJacobian, "X", &matrix),
            "∂vec(f)/∂vec(X)"
        );
        assert_eq!(
            crate::render::text::label(SecondDifferential, "X", &matrix),
            "d²f"
        );
    }

    #[test]
    fn a_run() {
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
            &[Symbol::from("W1")],
            &crate::engine::Limits::default(),
        )
        .unwrap();
        let out = results_to_json(&checked, &outcome, &LatexOptions::default());
        for needle in [
            "\"wrt\": \"W1\"",
            "\"wrt_latex\": \"W_1\"",
            "\"kind\": \"gradient\"",
            "\"shape\": [\"m\", \"n\"]",
            "\"text\": \"∂f/∂W1\"",
            "\"latex\": \"\\\\frac{\\\\partial f}{\\\\partial W_1}\"",
            "\"text\": \"(∇L(h ∘ W2) ∘ W2 ∘ σ'(W1 x)) xᵀ\"",
            "\"name\": \"h\"",
            "\"latex\": \"\\\\sigma(W_1 x)\"",
            "\"stage\": \"differentiate\"",
            "\"stop_reason\": \"saturated\"",
            "\"direction\": null",
            "\"real\": true",
        ] {
            assert!(out.contains(needle), "{needle} not in\n{out}");
        }
        assert!(out.ends_with("}\n"));
    }
}
