//! Source text → [`Program`]: the pest grammar (`grammar/matdiff.pest`) and one Pratt
//! parser for precedence.
//!
//! Precedence, loosest first: `+ -`; `∘ ⊘ ⊗`; products (juxtaposition, `*`, `·`, `/`);
//! prefix `-`; postfix operators. Every binary operator is left-associative.
//! Juxtaposition is the zero-width `juxt` token of the grammar, so it is an ordinary
//! infix operator here.
//!
//! Limits: parentheses (and braces) may nest [`MAX_NESTING`] deep, an operand may carry at
//! most [`MAX_NESTING`] prefix `-`, and an expression tree may be [`MAX_DEPTH`] deep. Past
//! them the parser reports an error instead of exhausting the stack.

use crate::lang::greek::read_ascii;
use crate::syntax::ast::*;
use crate::syntax::diagnostic::Diagnostic;
use pest::error::{ErrorVariant, InputLocation};
use pest::iterators::Pair;
use pest::pratt_parser::{Assoc, Op, PrattParser};
use pest::Parser as _;
use std::cell::Cell;
use std::sync::LazyLock;

/// How deeply parentheses, braces and prefix `-` may nest.
pub const MAX_NESTING: usize = 400;

/// How deeply operations may nest. The left operand of a binary operator does not count,
/// so a long flat chain such as `a + a + … + a` is one level: only real nesting counts.
pub const MAX_DEPTH: usize = 2000;

/// How tall an expression tree may be, flat chains included: the later stages recurse
/// over the tree, and this keeps them within their stack.
pub const MAX_HEIGHT: usize = 50_000;

// pest generates `Rule::all_rules` without a doc comment, so the generated items live in a
// module of their own where `missing_docs` is allowed; every rule has a `///` comment in
// the grammar, which becomes its documentation.
mod generated {
    #![allow(missing_docs)]

    /// The pest parser generated from `grammar/matdiff.pest`; its rules are [`Rule`].
    #[derive(pest_derive::Parser)]
    #[grammar = "../grammar/matdiff.pest"]
    pub struct MatdiffParser;
}

pub use generated::{MatdiffParser, Rule};

static PRATT: LazyLock<PrattParser<Rule>> = LazyLock::new(|| {
    PrattParser::new()
        .op(Op::infix(Rule::add, Assoc::Left) | Op::infix(Rule::sub, Assoc::Left))
        .op(Op::infix(Rule::hadamard, Assoc::Left)
            | Op::infix(Rule::ediv, Assoc::Left)
            | Op::infix(Rule::kron, Assoc::Left))
        .op(Op::infix(Rule::mul, Assoc::Left)
            | Op::infix(Rule::div, Assoc::Left)
            | Op::infix(Rule::juxt, Assoc::Left))
        .op(Op::prefix(Rule::neg))
        .op(Op::postfix(Rule::transpose)
            | Op::postfix(Rule::adjoint)
            | Op::postfix(Rule::inverse_transpose)
            | Op::postfix(Rule::power)
            | Op::postfix(Rule::elementwise_power))
});

type Result<T> = std::result::Result<T, Diagnostic>;

/// Parses a whole program. Every syntax error is a [`Diagnostic`] with a caret.
///
/// The recursion is bounded by [`MAX_NESTING`] and [`MAX_DEPTH`]; at those limits a debug
/// build needs a few MiB of stack, which [`crate::check_program`] provides by running on
/// its own thread.
pub fn parse_program(source: &str) -> Result<Program> {
    check_brackets(source)?;
    let mut pairs =
        MatdiffParser::parse(Rule::program, source).map_err(|e| pest_error(e, source))?;
    let ctx = Ctx {
        next_id: Cell::new(0),
    };
    let mut statements = vec![];
    if let Some(program) = pairs.next() {
        for pair in program.into_inner() {
            match pair.as_rule() {
                Rule::declaration => statements.push(Statement::Declaration(declaration(pair)?)),
                Rule::binding => {
                    let span = span_of(&pair);
                    let mut inner = pair.into_inner();
                    let name = ident(next(&mut inner, span)?);
                    let _equals = next(&mut inner, span)?;
                    let value = expr(&ctx, next(&mut inner, span)?, 0)?.expr;
                    statements.push(Statement::Binding(Binding { name, value, span }));
                }
                Rule::expr => statements.push(Statement::Expr(expr(&ctx, pair, 0)?.expr)),
                _ => {}
            }
        }
    }
    Ok(Program {
        statements,
        node_count: ctx.next_id.get(),
        span: Span::new(0, source.len()),
    })
}

/// Parses one expression (no declarations or bindings), for tests and tools.
///
/// ```
/// use matdiff::syntax::ast::{BinaryOp, ExprKind};
/// use matdiff::syntax::parse::parse_expr;
///
/// // Juxtaposition binds tighter than `∘`: `A x ∘ B x` is `(A x) ∘ (B x)`.
/// let e = parse_expr("A x ∘ B x").unwrap();
/// assert!(matches!(
///     &e.kind,
///     ExprKind::Binary { op: BinaryOp::Hadamard, lhs, rhs, .. }
///         if lhs.human_name() == "product" && rhs.human_name() == "product"
/// ));
///
/// // A syntax error is a diagnostic pointing at the offending place.
/// let err = parse_expr("A +").unwrap_err();
/// assert_eq!(err.line_col("A +"), (1, 4));
/// ```
pub fn parse_expr(source: &str) -> Result<Expr> {
    let program = parse_program(source)?;
    match program.statements.into_iter().next() {
        Some(Statement::Expr(e)) => Ok(e),
        Some(other) => Err(Diagnostic::new(
            format!("expected an expression, found a {}", other.human_name()),
            other.span(),
        )),
        None => Err(Diagnostic::new("expected an expression", Span::at(0))),
    }
}

struct Ctx {
    next_id: Cell<usize>,
}

/// An expression, its nesting depth (left operands of binary operators not counted) and
/// the height of its tree.
struct Built {
    expr: Expr,
    depth: usize,
    height: usize,
}

impl Ctx {
    fn node(&self, kind: ExprKind, span: Span, depth: usize, height: usize) -> Result<Built> {
        if depth > MAX_DEPTH {
            return Err(too_deep(
                span,
                format!("more than {MAX_DEPTH} nested operations"),
            ));
        }
        if height > MAX_HEIGHT {
            return Err(too_deep(
                span,
                format!("more than {MAX_HEIGHT} operations in one chain"),
            ));
        }
        let id = self.next_id.get();
        self.next_id.set(id + 1);
        Ok(Built {
            expr: Expr { id, kind, span },
            depth,
            height,
        })
    }
}

fn too_deep(span: Span, what: String) -> Diagnostic {
    Diagnostic::new(format!("the expression is too deeply nested: {what}"), span)
        .with_label("the limit is reached here")
        .with_note(
            "this limit keeps the parser from running out of stack; name sub-expressions \
             with bindings (`h = …`) to split the expression",
        )
}

fn span_of(pair: &Pair<'_, Rule>) -> Span {
    let s = pair.as_span();
    Span::new(s.start(), s.end())
}

fn next<'i>(
    pairs: &mut impl Iterator<Item = Pair<'i, Rule>>,
    span: Span,
) -> Result<Pair<'i, Rule>> {
    pairs.next().ok_or_else(|| internal(span))
}

/// A parse tree that the grammar cannot produce: a bug, reported rather than a panic.
fn internal(span: Span) -> Diagnostic {
    Diagnostic::new("internal error: unexpected parse tree", span)
        .with_note("this is a bug in matdiff; please report it with this input")
}

fn ident(pair: Pair<'_, Rule>) -> Ident {
    Ident {
        name: read_ascii(pair.as_str()),
        span: span_of(&pair),
    }
}

fn declaration(pair: Pair<'_, Rule>) -> Result<Declaration> {
    let span = span_of(&pair);
    let mut names = vec![];
    let mut ty = None;
    for p in pair.into_inner() {
        match p.as_rule() {
            Rule::name => names.push(ident(p)),
            Rule::type_spec => ty = Some(type_spec(p)?),
            _ => {}
        }
    }
    let ty = ty.ok_or_else(|| internal(span))?;
    Ok(Declaration { names, ty, span })
}

fn type_spec(pair: Pair<'_, Rule>) -> Result<Type> {
    let span = span_of(&pair);
    let inner = next(&mut pair.into_inner(), span)?;
    let kind = match inner.as_rule() {
        Rule::scalar_valued_type => TypeKind::ScalarValued,
        Rule::elementwise_type => TypeKind::Elementwise,
        Rule::scalar_type => TypeKind::Scalar { complex: false },
        Rule::vector_type => TypeKind::Vector {
            complex: false,
            len: None,
        },
        Rule::matrix_type => TypeKind::Matrix {
            complex: false,
            dims: None,
        },
        Rule::field_type => {
            let mut parts = inner.into_inner();
            let field = next(&mut parts, span)?;
            let complex = matches!(field.as_str(), "C" | "ℂ");
            let dims: Vec<DimSpec> = match parts.find(|p| p.as_rule() == Rule::dims) {
                Some(d) => d
                    .into_inner()
                    .filter(|p| matches!(p.as_rule(), Rule::dim_number | Rule::dim_name))
                    .map(dim_spec)
                    .collect::<Result<_>>()?,
                None => vec![],
            };
            let dims = if let [single] = dims.as_slice() {
                split_at_x(single).unwrap_or(dims)
            } else {
                dims
            };
            let mut dims = dims.into_iter();
            match (dims.next(), dims.next()) {
                (None, _) => TypeKind::Scalar { complex },
                (Some(len), None) => TypeKind::Vector {
                    complex,
                    len: Some(len),
                },
                (Some(r), Some(c)) => TypeKind::Matrix {
                    complex,
                    dims: Some((r, c)),
                },
            }
        }
        _ => return Err(internal(span)),
    };
    Ok(Type { kind, span })
}

fn dim_spec(pair: Pair<'_, Rule>) -> Result<DimSpec> {
    let span = span_of(&pair);
    let value = if pair.as_rule() == Rule::dim_number {
        match pair.as_str().parse::<u64>() {
            Ok(0) => {
                return Err(Diagnostic::new("a dimension must be positive", span)
                    .with_label("this size is 0"))
            }
            Ok(n) => DimValue::Number(n),
            Err(_) => {
                return Err(Diagnostic::new(
                    format!("bad dimension `{}`: too large", pair.as_str()),
                    span,
                ))
            }
        }
    } else {
        DimValue::Named(pair.as_str().to_string())
    };
    Ok(DimSpec { value, span })
}

/// `R^(mxn)`: a single dimension name with one inner `x` is read as `m×n`, since a size
/// named `mxn` is far less likely than a forgotten space.
fn split_at_x(dim: &DimSpec) -> Option<Vec<DimSpec>> {
    let DimValue::Named(name) = &dim.value else {
        return None;
    };
    let (left, right) = name.split_once('x')?;
    if left.is_empty() || right.is_empty() || right.contains('x') {
        return None;
    }
    let part = |text: &str, start: usize| -> Option<DimSpec> {
        let span = Span::new(start, start + text.len());
        let first = text.chars().next()?;
        let value = if text.chars().all(|c| c.is_ascii_digit()) {
            DimValue::Number(text.parse().ok().filter(|&n| n > 0)?)
        } else if first.is_alphabetic() {
            DimValue::Named(text.to_string())
        } else {
            return None;
        };
        Some(DimSpec { value, span })
    };
    let l = part(left, dim.span.start)?;
    let r = part(right, dim.span.start + left.len() + 1)?;
    Some(vec![l, r])
}

/// An `expr` pair → an expression: flattens its terms and folds them by precedence.
fn expr(ctx: &Ctx, pair: Pair<'_, Rule>, nesting: usize) -> Result<Built> {
    let span = span_of(&pair);
    if nesting > MAX_NESTING {
        return Err(too_deep(
            span,
            format!("more than {MAX_NESTING} levels of parentheses"),
        ));
    }
    let mut flat = vec![];
    for p in pair.into_inner() {
        if p.as_rule() == Rule::term {
            let mut negs = 0;
            for q in p.into_inner() {
                if q.as_rule() == Rule::neg {
                    negs += 1;
                    if negs > MAX_NESTING {
                        return Err(too_deep(
                            span_of(&q),
                            format!("more than {MAX_NESTING} `-` in a row"),
                        ));
                    }
                }
                flat.push(q);
            }
        } else {
            flat.push(p);
        }
    }
    PRATT
        .map_primary(|p| primary(ctx, p, nesting))
        .map_prefix(|op, rhs| {
            let rhs = rhs?;
            let op_span = span_of(&op);
            let span = op_span.to(rhs.expr.span);
            let kind = ExprKind::Neg {
                op_span,
                operand: Box::new(rhs.expr),
            };
            ctx.node(kind, span, rhs.depth + 1, rhs.height + 1)
        })
        .map_postfix(|lhs, op| postfix(ctx, lhs?, op, nesting))
        .map_infix(|lhs, op, rhs| {
            let (lhs, rhs) = (lhs?, rhs?);
            let op_span = span_of(&op);
            let op = match op.as_rule() {
                Rule::add => BinaryOp::Add,
                Rule::sub => BinaryOp::Sub,
                Rule::mul => BinaryOp::Mul,
                Rule::div => BinaryOp::Div,
                Rule::juxt => BinaryOp::Juxtapose,
                Rule::hadamard => BinaryOp::Hadamard,
                Rule::ediv => BinaryOp::EDiv,
                Rule::kron => BinaryOp::Kron,
                _ => return Err(internal(op_span)),
            };
            let span = lhs.expr.span.to(rhs.expr.span);
            let depth = lhs.depth.max(rhs.depth + 1);
            let height = lhs.height.max(rhs.height) + 1;
            let kind = ExprKind::Binary {
                op,
                op_span,
                lhs: Box::new(lhs.expr),
                rhs: Box::new(rhs.expr),
            };
            ctx.node(kind, span, depth, height)
        })
        .parse(flat.into_iter())
}

fn primary(ctx: &Ctx, pair: Pair<'_, Rule>, nesting: usize) -> Result<Built> {
    let span = span_of(&pair);
    match pair.as_rule() {
        Rule::number => {
            let v = number(pair.as_str(), span)?;
            ctx.node(ExprKind::Number(v), span, 1, 1)
        }
        Rule::imaginary_unit => ctx.node(ExprKind::ImaginaryUnit, span, 1, 1),
        Rule::name => ctx.node(ExprKind::Name(read_ascii(pair.as_str())), span, 1, 1),
        Rule::paren => {
            let inner = pair
                .into_inner()
                .find(|p| p.as_rule() == Rule::expr)
                .ok_or_else(|| internal(span))?;
            let mut built = expr(ctx, inner, nesting + 1)?;
            // The group's span includes its parentheses.
            built.expr.span = span;
            Ok(built)
        }
        Rule::call | Rule::derivative_call | Rule::gradient_call | Rule::hessian_call => {
            let rule = pair.as_rule();
            let mut inner = pair.into_inner();
            let head = next(&mut inner, span)?;
            let head_span = span_of(&head);
            let mut args = vec![];
            let mut depth = 0;
            let mut height = 0;
            for p in inner.filter(|p| p.as_rule() == Rule::expr) {
                let arg = expr(ctx, p, nesting + 1)?;
                depth = depth.max(arg.depth);
                height = height.max(arg.height);
                args.push(arg.expr);
            }
            let text = head.as_str();
            let kind = match rule {
                Rule::call => ExprKind::Call {
                    callee: Ident {
                        name: read_ascii(text),
                        span: head_span,
                    },
                    args,
                },
                Rule::derivative_call => {
                    let name = text.trim_end_matches(['\'', '′', '″']);
                    let primes = &text[name.len()..];
                    let order: usize = primes.chars().map(|c| if c == '″' { 2 } else { 1 }).sum();
                    let order = u8::try_from(order)
                        .ok()
                        .filter(|&o| o <= 16)
                        .ok_or_else(|| {
                            Diagnostic::new("too many primes: at most 16 derivatives", head_span)
                        })?;
                    ExprKind::Derivative {
                        callee: Ident {
                            name: read_ascii(name),
                            span: Span::new(head_span.start, head_span.start + name.len()),
                        },
                        order,
                        args,
                    }
                }
                Rule::hessian_call => {
                    let name = text.trim_start_matches("∇²").trim_start();
                    ExprKind::Hessian {
                        callee: Ident {
                            name: read_ascii(name),
                            span: Span::new(head_span.end - name.len(), head_span.end),
                        },
                        args,
                    }
                }
                _ => {
                    let name = text.trim_start_matches('∇').trim_start();
                    ExprKind::Gradient {
                        callee: Ident {
                            name: read_ascii(name),
                            span: Span::new(head_span.end - name.len(), head_span.end),
                        },
                        args,
                    }
                }
            };
            ctx.node(kind, span, depth + 1, height + 1)
        }
        _ => Err(internal(span)),
    }
}

/// A number literal's value; an infinite one is an error.
fn number(text: &str, span: Span) -> Result<f64> {
    match text.parse::<f64>() {
        Ok(v) if v.is_finite() => Ok(v),
        _ => Err(
            Diagnostic::new(format!("bad number `{text}`: too large"), span)
                .with_label("not a finite number"),
        ),
    }
}

fn postfix(ctx: &Ctx, lhs: Built, op: Pair<'_, Rule>, nesting: usize) -> Result<Built> {
    let op_span = span_of(&op);
    let span = lhs.expr.span.to(op_span);
    let mut depth = lhs.depth + 1;
    let mut height = lhs.height + 1;
    let op = match op.as_rule() {
        Rule::transpose => PostfixOp::Transpose,
        Rule::adjoint => PostfixOp::Adjoint,
        Rule::inverse_transpose => PostfixOp::InverseTranspose,
        Rule::power | Rule::elementwise_power => {
            let elementwise = op.as_rule() == Rule::elementwise_power;
            let inner = next(&mut op.into_inner(), op_span)?;
            let k = if inner.as_rule() == Rule::superscript {
                superscript(ctx, inner)?
            } else {
                exponent(ctx, inner, nesting)?
            };
            depth = depth.max(k.depth + 1);
            height = height.max(k.height + 1);
            if elementwise {
                PostfixOp::ElementwisePower(Box::new(k.expr))
            } else if k.expr.literal_value() == Some(-1.0) {
                PostfixOp::Inverse
            } else {
                PostfixOp::Power(Box::new(k.expr))
            }
        }
        _ => return Err(internal(op_span)),
    };
    let kind = ExprKind::Postfix {
        op,
        op_span,
        operand: Box::new(lhs.expr),
    };
    ctx.node(kind, span, depth, height)
}

/// `²`, `⁻¹` → a number node. A run of superscript digits (`²²`, `¹⁰`) is refused: it
/// could be one power (`^22`) or a repeated one (`(α²)²`).
fn superscript(ctx: &Ctx, pair: Pair<'_, Rule>) -> Result<Built> {
    let span = span_of(&pair);
    let digits = pair.as_str().chars().filter(|c| *c != '⁻').count();
    if digits > 1 {
        let plain: String = pair
            .as_str()
            .chars()
            .map(|c| match c {
                '⁻' => '-',
                c => char::from_digit(superscript_digit(c), 10).unwrap_or(c),
            })
            .collect();
        let first: String = pair
            .as_str()
            .chars()
            .take_while(|c| *c == '⁻')
            .collect::<String>()
            + &pair
                .as_str()
                .chars()
                .filter(|c| *c != '⁻')
                .take(1)
                .collect::<String>();
        let rest: String = pair
            .as_str()
            .chars()
            .filter(|c| *c != '⁻')
            .skip(1)
            .collect();
        return Err(Diagnostic::new(
            format!("ambiguous superscript `{}`", pair.as_str()),
            span,
        )
        .with_label("several superscript digits")
        .with_note(format!(
            "write `^{plain}` for the power {plain}, or bracket a repeated power: `(a{first}){rest}`"
        )));
    }
    let text: String = pair
        .as_str()
        .chars()
        .map(|c| match c {
            '⁻' => '-',
            '⁰' => '0',
            '¹' => '1',
            '²' => '2',
            '³' => '3',
            '⁴' => '4',
            '⁵' => '5',
            '⁶' => '6',
            '⁷' => '7',
            '⁸' => '8',
            '⁹' => '9',
            other => other,
        })
        .collect();
    let v = number(&text, span)?;
    ctx.node(ExprKind::Number(v), span, 1, 1)
}

/// The value of a superscript digit (`²` → 2); 10 for anything else.
fn superscript_digit(c: char) -> u32 {
    "⁰¹²³⁴⁵⁶⁷⁸⁹"
        .chars()
        .position(|d| d == c)
        .map_or(10, |i| i as u32)
}

/// What follows `^` or `.^`: a possibly negated number, name, call or group.
fn exponent(ctx: &Ctx, pair: Pair<'_, Rule>, nesting: usize) -> Result<Built> {
    let span = span_of(&pair);
    let mut inner = pair.into_inner().peekable();
    let neg = match inner.peek() {
        Some(p) if p.as_rule() == Rule::neg => inner.next().map(|p| span_of(&p)),
        _ => None,
    };
    let atom = next(&mut inner, span)?;
    if let (Some(_), Rule::number) = (neg, atom.as_rule()) {
        // `^-2` is the number -2, not the negation of 2.
        let v = number(atom.as_str(), span_of(&atom))?;
        return ctx.node(ExprKind::Number(-v), span, 1, 1);
    }
    let atom = primary(ctx, atom, nesting)?;
    match neg {
        Some(op_span) => {
            let (depth, height) = (atom.depth + 1, atom.height + 1);
            let kind = ExprKind::Neg {
                op_span,
                operand: Box::new(atom.expr),
            };
            ctx.node(kind, span, depth, height)
        }
        None => Ok(atom),
    }
}

/// Brackets are matched on each line before pest sees the text, so that deep nesting is
/// an error rather than a stack overflow, and so that a stray bracket gets its own caret.
fn check_brackets(source: &str) -> Result<()> {
    let mut open: Vec<(usize, char)> = vec![];
    let mut in_comment = false;
    let unclosed = |(at, c): (usize, char)| {
        let close = if c == '(' { ')' } else { '}' };
        Diagnostic::new(format!("unclosed `{c}`"), Span::new(at, at + 1))
            .with_label(format!("this `{c}` has no matching `{close}` on its line"))
    };
    for (i, c) in source.char_indices() {
        if in_comment {
            in_comment = c != '\n';
            continue;
        }
        match c {
            '#' => in_comment = true,
            '(' | '{' => {
                open.push((i, c));
                if open.len() > MAX_NESTING {
                    return Err(too_deep(
                        Span::new(i, i + 1),
                        format!("more than {MAX_NESTING} levels of parentheses"),
                    ));
                }
            }
            ')' | '}' => {
                let want = if c == ')' { '(' } else { '{' };
                match open.pop() {
                    Some((_, o)) if o == want => {}
                    Some((at, o)) => {
                        return Err(Diagnostic::new(
                            format!("mismatched `{c}`"),
                            Span::new(i, i + 1),
                        )
                        .with_label(format!("`{o}` is closed by `{c}`"))
                        .with_secondary(Span::new(at, at + 1), "opened here"))
                    }
                    None => {
                        return Err(Diagnostic::new(
                            format!("unmatched `{c}`"),
                            Span::new(i, i + 1),
                        )
                        .with_label(format!("no `{want}` before it")))
                    }
                }
            }
            '\n' | ';' => {
                if let Some(&o) = open.last() {
                    return Err(unclosed(o));
                }
            }
            _ => {}
        }
    }
    match open.last() {
        Some(&o) => Err(unclosed(o)),
        None => Ok(()),
    }
}

/// What a grammar rule is called in "expected …" messages, and how early it is listed.
fn describe(rule: &Rule) -> (u8, &'static str) {
    use Rule::*;
    match rule {
        name => (0, "a name"),
        expr | term | primary | number | imaginary_unit | call | callee | derivative_call
        | derivative_callee | gradient_call | gradient_callee | hessian_call | hessian_callee
        | paren | neg | exponent | superscript => (0, "an expression"),
        declaration => (1, "a declaration"),
        binding => (1, "a binding"),
        type_spec | scalar_valued_type | elementwise_type | scalar_type | vector_type
        | matrix_type | field_type | field => (2, "a type such as `R^n`, `R^(m×n)` or `scalar`"),
        dims | dim | dim_number | dim_name => (2, "a size such as `n`, `3` or `(m×n)`"),
        dim_sep => (3, "`×`"),
        caret => (3, "`^`"),
        add | sub | mul | div | juxt | hadamard | ediv | kron | transpose | adjoint
        | inverse_transpose | power | elementwise_power | postfix | caret_postfix | infix => {
            (4, "an operator")
        }
        rparen => (5, "`)`"),
        rbrace => (5, "`}`"),
        comma => (5, "`,`"),
        colon => (5, "`:`"),
        equals => (5, "`=`"),
        separator => (6, "the end of the statement (a new line or `;`)"),
        EOI => (7, "the end of the input"),
        program => (1, "a statement"),
        _ => (8, "something else"),
    }
}

/// A pest error → a diagnostic: "expected …, found …" with a caret.
fn pest_error(e: pest::error::Error<Rule>, source: &str) -> Diagnostic {
    let (pos, end) = match e.location {
        InputLocation::Pos(p) => (p, p),
        InputLocation::Span((s, t)) => (s, t),
    };
    match e.variant.clone() {
        ErrorVariant::ParsingError {
            mut positives,
            negatives,
        } => {
            // After a lone name, `,`, `:` and `=` (a declaration or a binding) are possible
            // too, but an operator is what was most likely missed.
            let operator = positives.iter().any(|r| describe(r).1 == "an operator");
            if operator && positives.contains(&Rule::colon) {
                positives.retain(|r| !matches!(r, Rule::colon | Rule::equals | Rule::comma));
            }
            // A separator ends the statement as the end of the input does.
            if positives.contains(&Rule::separator) {
                positives.retain(|r| *r != Rule::EOI);
            }
            positives.sort_by_key(|r| describe(r).0);
            positives.dedup_by_key(|r| describe(r).1);
            let mut e = e;
            e.variant = ErrorVariant::ParsingError {
                positives,
                negatives,
            };
            let renamed = e.renamed_rules(|r| describe(r).1.to_string());
            let expected = renamed.variant.message().into_owned();
            let (found, span) = found_at(source, pos);
            Diagnostic::new(format!("{expected}, found {found}"), span).with_label(expected)
        }
        ErrorVariant::CustomError { message } => {
            let span = Span::new(pos, end);
            if message.contains("limit") {
                too_deep(span, format!("the parser's {message}"))
            } else {
                Diagnostic::new(message, span)
            }
        }
    }
}

/// What stands at a failing position, and its span: "`)`", "the end of the line", ….
fn found_at(source: &str, pos: usize) -> (String, Span) {
    match source.get(pos..).and_then(|rest| rest.chars().next()) {
        None => ("the end of the input".to_string(), Span::at(pos)),
        Some('\r') | Some('\n') => ("the end of the line".to_string(), Span::at(pos)),
        Some(c) => (format!("`{c}`"), Span::new(pos, pos + c.len_utf8())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The expression as an s-expression: `(∘ (* A x) (* B x))`.
    fn sexp(e: &Expr) -> String {
        match &e.kind {
            ExprKind::Number(v) => format!("{v}"),
            ExprKind::ImaginaryUnit => "ⅈ".into(),
            ExprKind::Name(n) => n.clone(),
            ExprKind::Call { callee, args } => call("", &callee.name, args),
            ExprKind::Derivative {
                callee,
                order,
                args,
            } => call(&"'".repeat(*order as usize), &callee.name, args),
            ExprKind::Gradient { callee, args } => call("∇", &callee.name, args),
            ExprKind::Hessian { callee, args } => call("∇²", &callee.name, args),
            ExprKind::Neg { operand, .. } => format!("(neg {})", sexp(operand)),
            ExprKind::Postfix { op, operand, .. } => match op {
                PostfixOp::Transpose => format!("(T {})", sexp(operand)),
                PostfixOp::Adjoint => format!("(H {})", sexp(operand)),
                PostfixOp::Inverse => format!("(inv {})", sexp(operand)),
                PostfixOp::InverseTranspose => format!("(inv-T {})", sexp(operand)),
                PostfixOp::Power(k) => format!("(pow {} {})", sexp(operand), sexp(k)),
                PostfixOp::ElementwisePower(k) => format!("(epow {} {})", sexp(operand), sexp(k)),
            },
            ExprKind::Binary { op, lhs, rhs, .. } => {
                let op = match op {
                    BinaryOp::Juxtapose => "*",
                    other => other.symbol(),
                };
                format!("({op} {} {})", sexp(lhs), sexp(rhs))
            }
        }
    }

    fn call(prefix: &str, name: &str, args: &[Expr]) -> String {
        let args: Vec<String> = args.iter().map(sexp).collect();
        let (pre, post) = if prefix.starts_with('∇') {
            (prefix, "")
        } else {
            ("", prefix)
        };
        format!("({pre}{name}{post} {})", args.join(" "))
    }

    fn check(input: &str, expect: &str) {
        match parse_expr(input) {
            Ok(e) => assert_eq!(sexp(&e), expect, "input: {input}"),
            Err(d) => panic!("{input}: {}", d.render(input)),
        }
    }

    fn check_err(input: &str) -> Diagnostic {
        match parse_program(input) {
            Ok(p) => panic!("{input} parsed: {:?}", p.statements),
            Err(d) => d,
        }
    }

    #[test]
    fn every_operator_spelling() {
        for (input, expect) in [
            ("a + b", "(+ a b)"),
            ("a - b", "(- a b)"),
            ("a − b", "(- a b)"),
            ("a b", "(* a b)"),
            ("a * b", "(* a b)"),
            ("a · b", "(* a b)"),
            ("a ⋅ b", "(* a b)"),
            ("a / b", "(/ a b)"),
            ("a ∘ b", "(∘ a b)"),
            ("a ⊙ b", "(∘ a b)"),
            ("a .* b", "(∘ a b)"),
            ("a ⊘ b", "(⊘ a b)"),
            ("a ./ b", "(⊘ a b)"),
            ("a ⊗ b", "(⊗ a b)"),
            ("-a", "(neg a)"),
            ("−a", "(neg a)"),
            ("x'", "(T x)"),
            ("xᵀ", "(T x)"),
            ("x^T", "(T x)"),
            ("x ^T", "(T x)"),
            ("x^⊤", "(T x)"),
            ("xᴴ", "(H x)"),
            ("x^H", "(H x)"),
            ("A⁻¹", "(inv A)"),
            ("A^-1", "(inv A)"),
            ("A^(-1)", "(inv A)"),
            ("A⁻ᵀ", "(inv-T A)"),
            ("A^-T", "(inv-T A)"),
            ("A^2", "(pow A 2)"),
            ("A ^ 2", "(pow A 2)"),
            ("A²", "(pow A 2)"),
            ("A³", "(pow A 3)"),
            ("A⁻²", "(pow A -2)"),
            ("A^-2", "(pow A -2)"),
            ("α^0.5", "(pow α 0.5)"),
            ("α^(1/3)", "(pow α (/ 1 3))"),
            ("α^β", "(pow α β)"),
            ("α^-β", "(pow α (neg β))"),
            ("α^f(β)", "(pow α (f β))"),
            ("x.^2", "(epow x 2)"),
            ("x .^ 2", "(epow x 2)"),
            ("x^∘2", "(epow x 2)"),
            ("x.^-1", "(epow x -1)"),
            ("f(x)", "(f x)"),
            ("f(x, y)", "(f x y)"),
            ("σ'(u)", "(σ' u)"),
            ("σ′(u)", "(σ' u)"),
            ("σ''(u)", "(σ'' u)"),
            ("σ″(u)", "(σ'' u)"),
            ("∇L(u)", "(∇L u)"),
            ("∇ L(u)", "(∇L u)"),
            ("∇²L(u)", "(∇²L u)"),
            ("∇² L(u)", "(∇²L u)"),
            ("∇²L(A x + b)", "(∇²L (+ (* A x) b))"),
            ("commutation(A)", "(commutation A)"),
        ] {
            check(input, expect);
        }
    }

    #[test]
    fn precedence_and_associativity() {
        for (input, expect) in [
            ("A x ∘ B x", "(∘ (* A x) (* B x))"),
            ("a -b", "(- a b)"),
            ("a - -b", "(- a (neg b))"),
            ("a * -b", "(* a (neg b))"),
            ("-a b", "(* (neg a) b)"),
            ("- a", "(neg a)"),
            ("-x^2", "(neg (pow x 2))"),
            ("-xᵀ", "(neg (T x))"),
            ("xᵀ A x", "(* (* (T x) A) x)"),
            ("x' A x", "(* (* (T x) A) x)"),
            ("x'", "(T x)"),
            ("x''", "(T (T x))"),
            ("σ'(x)", "(σ' x)"),
            ("σ' (x)", "(* (T σ) x)"),
            ("x'(y)", "(x' y)"),
            ("x' y", "(* (T x) y)"),
            ("A (x)", "(* A x)"),
            ("A(x)", "(A x)"),
            ("(A)(x)", "(* A x)"),
            ("f (x)", "(* f x)"),
            ("2x", "(* 2 x)"),
            ("2 x y", "(* (* 2 x) y)"),
            ("a - b - c", "(- (- a b) c)"),
            ("a + b ∘ c", "(+ a (∘ b c))"),
            ("a ∘ b + c", "(+ (∘ a b) c)"),
            ("a ∘ b ∘ c", "(∘ (∘ a b) c)"),
            ("a / b c", "(* (/ a b) c)"),
            ("a b / c", "(/ (* a b) c)"),
            ("a * b c", "(* (* a b) c)"),
            ("a ⊗ b ∘ c", "(∘ (⊗ a b) c)"),
            ("a ⊘ b c", "(⊘ a (* b c))"),
            ("A x + b", "(+ (* A x) b)"),
            ("(a + b) c", "(* (+ a b) c)"),
            ("xᵀ y^2", "(* (T x) (pow y 2))"),
            ("x^T y", "(* (T x) y)"),
            ("x^Ty", "(* (T x) y)"),
            ("A⁻¹ x", "(* (inv A) x)"),
            ("A⁻¹ᵀ", "(T (inv A))"),
            ("x'^2", "(pow (T x) 2)"),
            ("x^2'", "(T (pow x 2))"),
            ("α^β^γ", "(pow (pow α β) γ)"),
            ("A^2 x", "(* (pow A 2) x)"),
            ("A^2x", "(* (pow A 2) x)"),
            ("σ(W1 x)", "(σ (* W1 x))"),
            ("L(σ(W1 x) ∘ W2)", "(L (∘ (σ (* W1 x)) W2))"),
            ("-∇L(u)", "(neg (∇L u))"),
            ("-∇²L(u)", "(neg (∇²L u))"),
            ("xᵀ ∇²L(x) x", "(* (* (T x) (∇²L x)) x)"),
            ("A ∇²L(u)", "(* A (∇²L u))"),
            ("∇²L(u)ᵀ", "(T (∇²L u))"),
            ("commutation(A) vec(A)", "(* (commutation A) (vec A))"),
            ("W_1 x2", "(* W_1 x2)"),
            ("1e-3 x", "(* 0.001 x)"),
            ("x # a comment", "x"),
        ] {
            check(input, expect);
        }
    }

    #[test]
    fn names_and_numbers() {
        for (input, expect) in [
            ("W1", "W1"),
            ("W_1", "W_1"),
            ("x2", "x2"),
            ("α", "α"),
            ("Ω", "Ω"),
            ("ϕ", "ϕ"),
            ("αβ", "αβ"),
            ("θ_2", "θ_2"),
            ("2", "2"),
            ("0.5", "0.5"),
            ("1e-3", "0.001"),
            ("2.5E+4", "25000"),
        ] {
            check(input, expect);
        }
        let d = check_err("1e999");
        assert_eq!(d.message, "bad number `1e999`: too large");
        assert_eq!(d.span, Span::new(0, 5));
    }

    fn declared(input: &str) -> Vec<(Vec<String>, TypeKind)> {
        let program = match parse_program(input) {
            Ok(p) => p,
            Err(d) => panic!("{}", d.render(input)),
        };
        program
            .statements
            .into_iter()
            .filter_map(|st| match st {
                Statement::Declaration(d) => {
                    Some((d.names.into_iter().map(|n| n.name).collect(), d.ty.kind))
                }
                _ => None,
            })
            .collect()
    }

    fn dim(name: &str) -> DimSpec {
        DimSpec {
            value: match name.parse() {
                Ok(n) => DimValue::Number(n),
                Err(_) => DimValue::Named(name.to_string()),
            },
            span: Span::default(),
        }
    }

    /// The type with its spans cleared, for comparison.
    fn strip(kind: TypeKind) -> TypeKind {
        let clear = |d: DimSpec| DimSpec {
            span: Span::default(),
            ..d
        };
        match kind {
            TypeKind::Vector { complex, len } => TypeKind::Vector {
                complex,
                len: len.map(clear),
            },
            TypeKind::Matrix { complex, dims } => TypeKind::Matrix {
                complex,
                dims: dims.map(|(r, c)| (clear(r), clear(c))),
            },
            other => other,
        }
    }

    #[test]
    fn every_type_form() {
        let vector = |c, n: Option<&str>| TypeKind::Vector {
            complex: c,
            len: n.map(dim),
        };
        let matrix = |c, d: Option<(&str, &str)>| TypeKind::Matrix {
            complex: c,
            dims: d.map(|(r, c)| (dim(r), dim(c))),
        };
        for (ty, expect) in [
            ("scalar", TypeKind::Scalar { complex: false }),
            ("R", TypeKind::Scalar { complex: false }),
            ("ℝ", TypeKind::Scalar { complex: false }),
            ("C", TypeKind::Scalar { complex: true }),
            ("vector", vector(false, None)),
            ("R^n", vector(false, Some("n"))),
            ("R^3", vector(false, Some("3"))),
            ("R^(n)", vector(false, Some("n"))),
            ("C^n", vector(true, Some("n"))),
            ("ℂ^n", vector(true, Some("n"))),
            ("matrix", matrix(false, None)),
            ("R^(m×n)", matrix(false, Some(("m", "n")))),
            ("R^{m×n}", matrix(false, Some(("m", "n")))),
            ("R^(m x n)", matrix(false, Some(("m", "n")))),
            ("R^(m,n)", matrix(false, Some(("m", "n")))),
            ("R^( m , n )", matrix(false, Some(("m", "n")))),
            ("R^(mxn)", matrix(false, Some(("m", "n")))),
            ("R^(3x4)", matrix(false, Some(("3", "4")))),
            ("R^(nx1)", matrix(false, Some(("n", "1")))),
            ("R^(n×1)", matrix(false, Some(("n", "1")))),
            ("R ^ (m × n)", matrix(false, Some(("m", "n")))),
            ("C^(m×n)", matrix(true, Some(("m", "n")))),
            ("C^{m,n}", matrix(true, Some(("m", "n")))),
            ("elementwise", TypeKind::Elementwise),
            ("element-wise", TypeKind::Elementwise),
            ("scalar-valued", TypeKind::ScalarValued),
            ("scalar_valued", TypeKind::ScalarValued),
        ] {
            let input = format!("A, B : {ty}\nA");
            let decls = declared(&input);
            assert_eq!(decls.len(), 1, "{ty}");
            assert_eq!(decls[0].0, vec!["A", "B"], "{ty}");
            assert_eq!(strip(decls[0].1.clone()), expect, "{ty}");
        }
        // A size that is a single name is kept when splitting it at `x` is not clean.
        assert_eq!(
            strip(declared("a : R^(xx)\na")[0].1.clone()),
            vector(false, Some("xx"))
        );
        let d = check_err("x : R^0\nx");
        assert_eq!(d.message, "a dimension must be positive");
        assert_eq!(d.span, Span::new(6, 7));
    }

    #[test]
    fn statements_and_separators() {
        let p = parse_program("# header\n\nx : R^n; A : R^(n×n)  # two\nh = A x;\n\nxᵀ h\n")
            .unwrap_or_else(|d| panic!("{d:?}"));
        let kinds: Vec<&str> = p.statements.iter().map(Statement::human_name).collect();
        assert_eq!(
            kinds,
            ["declaration", "declaration", "binding", "expression"]
        );
        let crlf = parse_program("x : R^n\r\nxᵀ x\r\n").unwrap_or_else(|d| panic!("{d:?}"));
        assert_eq!(crlf.statements.len(), 2);
        assert_eq!(parse_program("").map(|p| p.statements.len()), Ok(0));
        // Every node has its own id.
        let e = parse_expr("A x + b").unwrap_or_else(|d| panic!("{d:?}"));
        assert_eq!(e.id, 4);
        assert_eq!(e.span, Span::new(0, 7));
    }

    #[test]
    fn spans_of_operators_and_groups() {
        let e = parse_expr("(a + b) ∘ cᵀ").unwrap_or_else(|d| panic!("{d:?}"));
        let ExprKind::Binary {
            op_span, lhs, rhs, ..
        } = &e.kind
        else {
            panic!("{e:?}")
        };
        assert_eq!(op_span.text("(a + b) ∘ cᵀ"), "∘");
        assert_eq!(lhs.span.text("(a + b) ∘ cᵀ"), "(a + b)");
        assert_eq!(rhs.span.text("(a + b) ∘ cᵀ"), "cᵀ");
        let e = parse_expr("σ''(u)").unwrap_or_else(|d| panic!("{d:?}"));
        let ExprKind::Derivative { callee, order, .. } = &e.kind else {
            panic!("{e:?}")
        };
        assert_eq!((callee.name.as_str(), *order), ("σ", 2));
        assert_eq!(callee.span.text("σ''(u)"), "σ");
        let e = parse_expr("∇² L(u)").unwrap_or_else(|d| panic!("{d:?}"));
        let ExprKind::Hessian { callee, args } = &e.kind else {
            panic!("{e:?}")
        };
        assert_eq!(callee.name, "L");
        assert_eq!(callee.span.text("∇² L(u)"), "L");
        assert_eq!(args.len(), 1);
        assert_eq!(e.span.text("∇² L(u)"), "∇² L(u)");
        assert_eq!(e.human_name(), "Hessian call");
    }

    /// The rendered error's message and caret line.
    fn error_at(input: &str) -> (String, String) {
        let d = check_err(input);
        let r = d.render(input);
        let caret = r
            .lines()
            .find(|l| l.starts_with("  | ") && l.contains('^'))
            .unwrap_or_default()
            .to_string();
        (d.message, caret)
    }

    #[test]
    fn syntax_errors_have_words_and_carets() {
        for (input, message, caret) in [
            (
                "a +",
                "expected an expression, found the end of the input",
                "  |    ^ expected an expression",
            ),
            ("a + )", "unmatched `)`", "  |     ^ no `(` before it"),
            (
                "(a b",
                "unclosed `(`",
                "  | ^ this `(` has no matching `)` on its line",
            ),
            (
                "f(a,\n)",
                "unclosed `(`",
                "  |  ^ this `(` has no matching `)` on its line",
            ),
            (
                "(a]",
                "unclosed `(`",
                "  | ^ this `(` has no matching `)` on its line",
            ),
            (
                "R^(m×n}",
                "mismatched `}`",
                "  |       ^ `(` is closed by `}`",
            ),
            (
                "f(a,)",
                "expected an expression, found `)`",
                "  |     ^ expected an expression",
            ),
            (
                "x : foo",
                "expected a type such as `R^n`, `R^(m×n)` or `scalar`, found `f`",
                "  |     ^ expected a type such as `R^n`, `R^(m×n)` or `scalar`",
            ),
            (
                "x : R^",
                "expected a size such as `n`, `3` or `(m×n)`, found the end of the input",
                "  |       ^ expected a size such as `n`, `3` or `(m×n)`",
            ),
            (
                "x : R^(m n)",
                "expected `×` or `)`, found `n`",
                "  |          ^ expected `×` or `)`",
            ),
            (
                "a ∘ ∘ b",
                "expected an expression, found `∘`",
                "  |     ^ expected an expression",
            ),
            (
                "x $",
                "expected an operator or the end of the statement (a new line or `;`), found `$`",
                "  |   ^ expected an operator or the end of the statement (a new line or `;`)",
            ),
            (
                "x : R^n\nα x ?",
                "expected an operator or the end of the statement (a new line or `;`), found `?`",
                "  |     ^ expected an operator or the end of the statement (a new line or `;`)",
            ),
            (
                "x : R^n m",
                "expected the end of the statement (a new line or `;`), found `m`",
                "  |         ^ expected the end of the statement (a new line or `;`)",
            ),
            (
                "f(x y $)",
                "expected an operator, `,`, or `)`, found `$`",
                "  |       ^ expected an operator, `,`, or `)`",
            ),
            (
                "A, : R^n",
                "expected a name, found `:`",
                "  |    ^ expected a name",
            ),
            (
                "∇(x)",
                "expected a statement, found `∇`",
                "  | ^ expected a statement",
            ),
            (
                "∇²(x)",
                "expected a statement, found `∇`",
                "  | ^ expected a statement",
            ),
            (
                "x + ∇²",
                "expected an expression, found `∇`",
                "  |     ^ expected an expression",
            ),
            (
                "x : R^(m×n×p)",
                "expected `)`, found `×`",
                "  |           ^ expected `)`",
            ),
            (
                "h = ",
                "expected an expression, found the end of the input",
                "  |     ^ expected an expression",
            ),
            (
                "x'(",
                "unclosed `(`",
                "  |   ^ this `(` has no matching `)` on its line",
            ),
        ] {
            let (m, c) = error_at(input);
            assert_eq!(m, message, "{input}");
            assert_eq!(c, caret, "{input}");
        }
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_stack_overflow() {
        let deep = "(".repeat(10_000) + "x" + &")".repeat(10_000);
        let d = check_err(&deep);
        assert!(d.message.contains("too deeply nested"), "{}", d.message);
        assert!(
            d.message.contains("400 levels of parentheses"),
            "{}",
            d.message
        );
        assert_eq!(d.span, Span::new(MAX_NESTING, MAX_NESTING + 1));
        assert!(d.notes[0].contains("bindings"));

        let unclosed = "(".repeat(10_000);
        assert!(check_err(&unclosed).message.contains("too deeply nested"));

        let calls = "σ(".repeat(5_000) + "x" + &")".repeat(5_000);
        assert!(check_err(&calls).message.contains("too deeply nested"));

        let negs = "-".repeat(10_000) + "x";
        let d = check_err(&negs);
        assert!(d.message.contains("`-` in a row"), "{}", d.message);

        // Dropping a tree this tall recurses: on a thread with the front end's stack.
        let chain = vec!["x"; MAX_HEIGHT + 10].join(" + ");
        let d = std::thread::Builder::new()
            .stack_size(256 << 20)
            .spawn(move || check_err(&chain))
            .expect("thread")
            .join()
            .expect("no panic");
        assert!(
            d.message.contains("50000 operations in one chain"),
            "{}",
            d.message
        );

        let primes = "x".to_string() + &"'".repeat(10_000);
        assert!(check_err(&primes).message.contains("nested operations"));

        let powers = "α".to_string() + &"^α".repeat(10_000);
        assert!(check_err(&powers).message.contains("nested operations"));
    }

    #[test]
    fn nesting_just_under_the_limits_parses() {
        // On a thread with the front end's stack, as `check_program` runs the parser.
        let run = |src: String| {
            std::thread::Builder::new()
                .stack_size(256 << 20)
                .spawn(move || parse_program(&src).map(|p| p.node_count))
                .map(|h| h.join().ok())
        };
        let n = MAX_NESTING - 1;
        let deep = "(".repeat(n) + "x" + &")".repeat(n);
        assert!(matches!(run(deep), Ok(Some(Ok(1)))));
        let chain = vec!["x"; MAX_DEPTH - 1].join(" + ");
        assert!(matches!(run(chain), Ok(Some(Ok(3997)))));
        // Only real nesting counts: a flat chain far longer than MAX_DEPTH is fine.
        let chain = vec!["sum(x)"; 5000].join(" + ");
        assert!(matches!(run(chain), Ok(Some(Ok(14999)))));
        let product = vec!["x"; 5000].join(" ");
        assert!(matches!(run(product), Ok(Some(Ok(9999)))));
    }
}
