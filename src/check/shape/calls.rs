//! The checker on calls: built-in functions, `grad`, derivative calls, and the final
//! shapes and names of the analysis.

use super::*;

impl<'a> Checker<'a> {
    #[allow(clippy::too_many_arguments)]
    pub(super) fn builtin(
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
            Builtin::Sum
            | Builtin::Norm
            | Builtin::Norm1
            | Builtin::Mean
            | Builtin::Var
            | Builtin::Std => Ok(ShapeT::scalar()),
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
            Builtin::Commutation if args.len() == 2 => {
                let n = self.size(&args[0])?.times(&self.size(&args[1])?);
                Ok(ShapeT::new(n.clone(), n))
            }
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

    /// A size written as a value, as the arguments of `commutation(m, n)`: a whole
    /// number, a dimension name, or a product of these (`m n`).
    fn size(&mut self, e: &Expr) -> Result<Mono> {
        match &e.kind {
            ExprKind::Number(v) if *v >= 1.0 && v.fract() == 0.0 && *v < 1e9 => {
                Ok(Mono::lit(*v as u64))
            }
            ExprKind::Name(n)
                if matches!(self.res.get(e.id), Some(Some(Resolution::Dimension(_)))) =>
            {
                Ok(Mono::rigid(n))
            }
            ExprKind::Binary {
                op: BinaryOp::Juxtapose | BinaryOp::Mul,
                lhs,
                rhs,
                ..
            } => Ok(self.size(lhs)?.times(&self.size(rhs)?)),
            _ => Err(Diagnostic::new(
                format!(
                    "{}: the arguments of `commutation(m, n)` are sizes",
                    self.text(e.span)
                ),
                e.span,
            )
            .with_label("not a size")
            .with_note(
                "write whole numbers or dimension names of the declarations, as in \
                 `commutation(m, n)`; or `commutation(A)` for a matrix A",
            )),
        }
    }

    /// `grad(e, X)` (e 1×1) or `grad(E, X, G)` (G shaped like E, or 1×1): shaped like
    /// the variable X.
    pub(super) fn grad(&mut self, e: &Expr, args: &[Expr], shapes: &[ShapeT]) -> Result<ShapeT> {
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

    pub(super) fn square(&mut self, e: &Expr, f: &str, a: &Expr, sa: &ShapeT) -> Result<()> {
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

    pub(super) fn vector(&mut self, e: &Expr, f: &str, a: &Expr, sa: &ShapeT) -> Result<()> {
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

    pub(super) fn derivative(&mut self, e: &Expr, callee: &Ident, args: &[Expr]) -> Result<ShapeT> {
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
    pub(super) fn gradient(
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

    pub(super) fn postfix(
        &mut self,
        e: &Expr,
        op: &PostfixOp,
        op_span: Span,
        a: &Expr,
    ) -> Result<ShapeT> {
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
    pub(super) fn exponent(&mut self, e: &Expr, k: &Expr) -> Result<()> {
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

    pub(super) fn binary(
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
    pub(super) fn broadcast(
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
    pub(super) fn product(
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
            // Not a matrix product (a failed unification binds nothing): a scaling, if an
            // operand can be 1×1 (`onesᵀ x A` with the column count of `ones` free is
            // sum(x) A).
            let before = self.u.clone();
            for (s, other) in [(sa, sb), (sb, sa)] {
                if self.make_scalar(s) {
                    return Ok(other.clone());
                }
                self.u = before.clone();
            }
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

    pub(super) fn finish(mut self, program: &Program, expr_index: usize) -> Result<Analysis> {
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
