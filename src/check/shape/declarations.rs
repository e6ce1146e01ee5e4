//! The checker's walk over the program: declarations, bindings, names under the
//! conventions for undeclared names, and the shapes of operators.

use super::*;

impl<'a> Checker<'a> {
    pub(super) fn new(program: &Program, source: &'a str) -> Checker<'a> {
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
            dim_names: HashSet::new(),
            flex_names: HashMap::new(),
            next_fresh: 1,
        }
    }

    pub(super) fn text(&self, span: Span) -> String {
        snippet(self.source, span)
    }

    /// The name of a flexible root: `n1`, `n2`, … avoiding every identifier.
    pub(super) fn flex_name(&mut self, root: usize) -> Symbol {
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

    pub(super) fn dim(&mut self, m: &Mono) -> Dim {
        let m = self.u.resolve(m);
        let mut syms = m.rigid.clone();
        for &f in &m.flex {
            syms.push(self.flex_name(f));
        }
        syms.sort_by(|a, b| a.as_str().cmp(b.as_str()));
        Dim { coef: m.coef, syms }
    }

    pub(super) fn shape(&mut self, s: &ShapeT) -> Shape {
        Shape::new(self.dim(&s.rows), self.dim(&s.cols))
    }

    pub(super) fn show(&mut self, s: &ShapeT) -> String {
        self.shape(s).to_string()
    }

    pub(super) fn show_dim(&mut self, m: &Mono) -> String {
        self.dim(m).to_string()
    }

    /// Unifies two dimensions; a constraint that cannot be decided yet is kept for the end.
    pub(super) fn unify(
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
    pub(super) fn unify_shapes(
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

    pub(super) fn is_scalar(&mut self, s: &ShapeT) -> bool {
        self.u.is_one(&s.rows) && self.u.is_one(&s.cols)
    }

    /// Makes a shape 1×1 if its unknown sizes allow it; whether it did (the unknowns may
    /// be bound in part when it did not).
    pub(super) fn make_scalar(&mut self, s: &ShapeT) -> bool {
        let one = Mono::lit(1);
        matches!(self.u.unify(&s.rows, &one), Ok(true))
            && matches!(self.u.unify(&s.cols, &one), Ok(true))
    }

    /// A note for a failure caused by a vector whose length would be 1.
    pub(super) fn failure_note(&mut self, failure: Failure, d: Diagnostic) -> Diagnostic {
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

    pub(super) fn first_span(&self, entry: Entry) -> Span {
        match entry {
            Entry::Var(i) => self.vars[i].span,
            Entry::Func(i) => self.funcs[i].span,
            Entry::Bind(i) => self.binds[i].span,
        }
    }

    pub(super) fn declare(&mut self, d: &Declaration) -> Result<()> {
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
            let specs: Vec<&DimSpec> = match &d.ty.kind {
                TypeKind::Vector { len: Some(n), .. } => vec![n],
                TypeKind::Matrix {
                    dims: Some((r, c)), ..
                } => vec![r, c],
                _ => vec![],
            };
            for spec in specs {
                if let DimValue::Named(n) = &spec.value {
                    self.dim_names.insert(n.to_string());
                }
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

    pub(super) fn new_var(
        &mut self,
        name: &Ident,
        shape: ShapeT,
        kind: Kind,
        complex: bool,
    ) -> Entry {
        self.vars.push(VarInfo {
            name: name.name.clone(),
            shape,
            kind,
            complex,
            span: name.span,
        });
        Entry::Var(self.vars.len() - 1)
    }

    pub(super) fn bind(&mut self, b: &Binding, statement: usize) -> Result<()> {
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
    pub(super) fn already(&self, name: &Ident, entry: Entry, verb: &str) -> Diagnostic {
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

    pub(super) fn check(&mut self, e: &Expr) -> Result<ShapeT> {
        let shape = self.check_kind(e)?;
        if let Some(slot) = self.shapes.get_mut(e.id) {
            *slot = Some(shape.clone());
        }
        Ok(shape)
    }

    pub(super) fn resolve_as(&mut self, e: &Expr, r: Resolution) {
        if let Some(slot) = self.res.get_mut(e.id) {
            *slot = Some(r);
        }
    }

    pub(super) fn check_kind(&mut self, e: &Expr) -> Result<ShapeT> {
        match &e.kind {
            ExprKind::Number(_) | ExprKind::ImaginaryUnit => Ok(ShapeT::scalar()),
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

    pub(super) fn name(&mut self, e: &Expr, name: &str) -> Result<ShapeT> {
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
                _ if self.dim_names.contains(name) => {
                    self.resolve_as(e, Resolution::Dimension(Symbol::from(name)));
                    Ok(ShapeT::scalar())
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
    pub(super) fn new_function(&mut self, callee: &Ident, kind: FunctionKind) -> Result<usize> {
        if let Some((_, hint)) = NOT_BUILT_IN.iter().find(|(n, _)| *n == callee.name) {
            // Read as a generic element-wise function, these would silently mean
            // something else than their usual reduction over the entries.
            return Err(Diagnostic::new(
                format!("`{}` is not a built-in function", callee.name),
                callee.span,
            )
            .with_label("not built in")
            .with_note(format!(
                "{hint}; to use `{0}` as a generic function, declare it: `{0} : elementwise` \
                 or `{0} : scalar-valued`",
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
    pub(super) fn not_callable(&self, callee: &Ident, entry: Entry, how: &str) -> Diagnostic {
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

    pub(super) fn constant_not_callable(&self, callee: &Ident) -> Diagnostic {
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

    pub(super) fn arity(&self, e: &Expr, callee: &Ident, args: &[Expr], want: usize) -> Result<()> {
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

    pub(super) fn call(&mut self, e: &Expr, callee: &Ident, args: &[Expr]) -> Result<ShapeT> {
        let (res, want) = match self.names.get(&callee.name).copied() {
            Some(Entry::Func(i)) => (Resolution::Generic(i), 1),
            Some(entry) => return Err(self.not_callable(callee, entry, "called")),
            None => match Builtin::from_name(&callee.name) {
                Some(Builtin::Grad) if args.len() == 3 => (Resolution::Builtin(Builtin::Grad), 3),
                Some(Builtin::Commutation) if args.len() == 2 => {
                    (Resolution::Builtin(Builtin::Commutation), 2)
                }
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
}
