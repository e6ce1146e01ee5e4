//! Lowering an expression to NumPy statements without materialising structure.
//!
//! Each node becomes a [`Val`]: dense code, or a structured value kept symbolic (a
//! diagonal matrix, a scaled identity, `ones`, a Kronecker product, a product chain).
//! Structure is applied where it is used (`diag(v) X` → `v * X`, a chain is ordered at
//! run time by `np.linalg.multi_dot`, `(A ⊗ I) diag(d) (B ⊗ I)` is assembled by one
//! einsum) and turned into an array only when nothing can apply it.
//!
//! Inside a function every vector is a column and every matrix 2-D; a 1×1 value is a
//! Python number.

use super::{ascii_name, spell_ascii, NumpyError, Param};
use crate::lang::dims::{Dim, Shape};
use crate::lang::{node_shape, FillKind, Math};
use egg::{Id, Language, RecExpr, Symbol};
use std::collections::{BTreeMap, BTreeSet};

/// A node's value, kept structured where that is cheaper.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Val {
    /// Code of a 2-D array, or of a number for a 1×1 value.
    Dense(String),
    /// `ones` of the node's shape.
    Ones,
    /// `s I` (`None`: s = 1).
    Eye(Option<String>),
    /// `diag(v)`, v the code of a column.
    Diag(String),
    /// `A ⊗ B`.
    Kron(Box<Fac>, Box<Fac>),
    /// `s F1 F2 … Fk`: a matrix product of non-scalar factors (`None`: s = 1).
    Prod(Option<String>, Vec<Fac>),
}

/// A value with its shape: one factor of a product.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Fac {
    pub val: Val,
    pub shape: Shape,
}

/// The statements and result of one function.
pub(super) struct Body {
    pub lines: Vec<String>,
    pub result: String,
    pub result_shape: Shape,
    pub generic_params: BTreeSet<String>,
    pub dims: BTreeMap<Symbol, String>,
    pub(super) nodes: Vec<Math>,
    pub(super) shapes: Vec<Shape>,
    pub(super) vals: Vec<Val>,
    pub(super) uses: Vec<usize>,
    pub(super) dense: Vec<Option<String>>,
}

/// `a * b` for scalar codes, either absent meaning 1.
pub(super) fn times(a: &Option<String>, b: &Option<String>) -> Option<String> {
    match (a, b) {
        (None, x) | (x, None) => x.clone(),
        (Some(a), Some(b)) => Some(format!("({a} * {b})")),
    }
}

/// The code of a product `coef * x`.
pub(super) fn scaled(coef: &Option<String>, x: String) -> String {
    match coef {
        None => x,
        Some(c) => format!("({c} * {x})"),
    }
}

/// The transpose of dense code.
fn transposed_code(code: &str) -> String {
    match code.strip_suffix(".T") {
        Some(inner) if is_atom(inner) => inner.to_string(),
        _ => format!("{code}.T"),
    }
}

/// Code that binds tighter than `.T`: a name, or a call or bracket closed by its last
/// character.
fn is_atom(code: &str) -> bool {
    if is_name(code) {
        return true;
    }
    let Some(open) = code.find('(') else {
        return false;
    };
    if !is_name(&code[..open].replace('.', "_")) || !code.ends_with(')') {
        return false;
    }
    let mut depth = 0usize;
    for (i, c) in code.char_indices().skip(open) {
        match c {
            '(' => depth += 1,
            ')' => {
                depth -= 1;
                if depth == 0 {
                    return i == code.len() - 1;
                }
            }
            _ => {}
        }
    }
    false
}

fn is_name(code: &str) -> bool {
    code.chars().all(|c| c.is_alphanumeric() || c == '_')
}

impl Fac {
    fn transposed(&self) -> Fac {
        let shape = self.shape.transposed();
        let val = match &self.val {
            Val::Dense(c) if self.shape.is_scalar() => Val::Dense(c.clone()),
            Val::Dense(c) => Val::Dense(transposed_code(c)),
            Val::Kron(a, b) => Val::Kron(Box::new(a.transposed()), Box::new(b.transposed())),
            Val::Prod(s, fs) => {
                Val::Prod(s.clone(), fs.iter().rev().map(Fac::transposed).collect())
            }
            v => v.clone(),
        };
        Fac { val, shape }
    }

    /// The identity of a Kronecker factor: `I` without a scale.
    fn is_identity(&self) -> bool {
        self.val == Val::Eye(None)
    }
}

impl Body {
    pub fn new(
        expr: &RecExpr<Math>,
        var_shapes: &BTreeMap<Symbol, Shape>,
        params: &[Param],
        wrt: &[String],
    ) -> Result<Body, NumpyError> {
        let nodes = expr.as_ref().to_vec();
        let mut shapes: Vec<Shape> = Vec::with_capacity(nodes.len());
        for node in &nodes {
            let s = node_shape(node, &|c| shapes.get(usize::from(c)).cloned(), &|v| {
                var_shapes.get(&v).cloned()
            })
            .map_err(NumpyError::Shape)?;
            // Function leaves have no shape; a 1×1 placeholder keeps indices aligned.
            shapes.push(s.unwrap_or_else(Shape::scalar));
        }
        let mut uses = vec![0usize; nodes.len()];
        for node in &nodes {
            for c in node.children() {
                uses[usize::from(*c)] += 1;
            }
        }
        let names: BTreeMap<Symbol, String> = params
            .iter()
            .map(|p| (Symbol::from(p.name.as_str()), ascii_name(&p.name, wrt)))
            .collect();
        let n = nodes.len();
        let mut body = Body {
            lines: vec![],
            result: String::new(),
            result_shape: shapes.last().cloned().unwrap_or_else(Shape::scalar),
            generic_params: BTreeSet::new(),
            dims: BTreeMap::new(),
            nodes,
            shapes,
            vals: Vec::with_capacity(n),
            uses,
            dense: vec![None; n],
        };
        for i in 0..n {
            let node = body.nodes[i].clone();
            let val = body.node(&node, &names)?;
            let shared = body.uses[i] >= 2 && !node.is_leaf() && i + 1 < n;
            let val = if shared { body.share(i, val) } else { val };
            body.vals.push(val);
        }
        body.result = if n == 0 {
            "0.0".into()
        } else {
            body.code(Id::from(n - 1))
        };
        Ok(body)
    }

    /// A value used more than once: dense code is computed once into `_t<i>`; structure
    /// is kept, with its parts named.
    fn share(&mut self, i: usize, val: Val) -> Val {
        let tmp = format!("_t{i}");
        match val {
            Val::Dense(code) => {
                self.lines.push(format!("{tmp} = {code}"));
                Val::Dense(tmp)
            }
            Val::Prod(_, ref fs) if fs.iter().all(|f| matches!(f.val, Val::Dense(_))) => {
                let code = self.materialise(&Fac {
                    val,
                    shape: self.shapes[i].clone(),
                });
                self.lines.push(format!("{tmp} = {code}"));
                Val::Dense(tmp)
            }
            other => self.name_parts(other),
        }
    }

    /// The same value with every piece of code a name (so that repeating it is free).
    fn name_parts(&mut self, val: Val) -> Val {
        let fac = |b: &mut Body, f: Fac| Fac {
            val: b.name_parts(f.val),
            shape: f.shape,
        };
        match val {
            Val::Dense(c) => Val::Dense(self.named(c)),
            Val::Diag(c) => Val::Diag(self.named(c)),
            Val::Eye(s) => Val::Eye(s.map(|c| self.named(c))),
            Val::Ones => Val::Ones,
            Val::Kron(a, b) => Val::Kron(Box::new(fac(self, *a)), Box::new(fac(self, *b))),
            Val::Prod(s, fs) => {
                let s = s.map(|c| self.named(c));
                Val::Prod(s, fs.into_iter().map(|f| fac(self, f)).collect())
            }
        }
    }

    /// Code that can be repeated: a name, a number, or a new temporary holding `code`.
    pub fn named(&mut self, code: String) -> String {
        if is_name(&code) || code.parse::<f64>().is_ok() {
            return code;
        }
        let tmp = format!("_u{}", self.lines.len());
        self.lines.push(format!("{tmp} = {code}"));
        tmp
    }

    pub(super) fn fac(&self, id: Id) -> Fac {
        Fac {
            val: self.vals[usize::from(id)].clone(),
            shape: self.shapes[usize::from(id)].clone(),
        }
    }

    /// Dense code for a node (memoised: a shared node is turned dense once).
    pub(super) fn code(&mut self, id: Id) -> String {
        let i = usize::from(id);
        if let Val::Dense(c) = &self.vals[i] {
            return c.clone();
        }
        if let Some(c) = &self.dense[i] {
            return c.clone();
        }
        let code = self.materialise(&self.fac(id));
        let code = if self.uses[i] >= 2 {
            let tmp = format!("_m{i}");
            self.lines.push(format!("{tmp} = {code}"));
            tmp
        } else {
            code
        };
        self.dense[i] = Some(code.clone());
        code
    }

    pub(super) fn scalar(&self, id: &Id) -> bool {
        self.shapes[usize::from(*id)].is_scalar()
    }

    pub(super) fn sh(&self, id: &Id) -> Shape {
        self.shapes[usize::from(*id)].clone()
    }

    pub(super) fn num(&self, id: &Id) -> Option<f64> {
        match &self.nodes[usize::from(*id)] {
            Math::Num(n) => Some(n.value()),
            _ => None,
        }
    }

    /// An array of this value (a number for a 1×1 shape).
    pub(super) fn materialise(&mut self, fac: &Fac) -> String {
        let scalar = fac.shape.is_scalar();
        match &fac.val {
            Val::Dense(c) => c.clone(),
            Val::Ones if scalar => "1.0".into(),
            Val::Ones => {
                let (r, c) = (self.dim(&fac.shape.rows), self.dim(&fac.shape.cols));
                format!("np.ones(({r}, {c}))")
            }
            Val::Eye(s) if scalar => s.clone().unwrap_or_else(|| "1.0".into()),
            Val::Eye(s) => {
                let n = self.dim(&fac.shape.rows);
                scaled(s, format!("np.eye({n})"))
            }
            Val::Diag(v) if scalar => v.clone(),
            Val::Diag(v) => format!("np.diagflat({v})"),
            Val::Kron(a, b) => {
                let (ca, cb) = (self.materialise(a), self.materialise(b));
                if scalar || a.shape.is_scalar() || b.shape.is_scalar() {
                    format!("({ca} * {cb})")
                } else {
                    format!("np.kron({ca}, {cb})")
                }
            }
            Val::Prod(s, fs) => self.chain(s.clone(), fs.clone(), &fac.shape),
        }
    }

    /// The factors of a matrix product operand, with its scale.
    pub(super) fn factors(fac: Fac) -> (Option<String>, Vec<Fac>) {
        match fac.val {
            Val::Prod(s, fs) => (s, fs),
            Val::Eye(s) => (s, vec![]),
            val => (None, vec![fac_of(val, fac.shape)]),
        }
    }

    /// Code of the product `coef F1 … Fk` of shape `shape`.
    fn chain(&mut self, coef: Option<String>, facs: Vec<Fac>, shape: &Shape) -> String {
        let mut coef = coef;
        // identities and scaled identities leave the chain
        let mut fs: Vec<Fac> = vec![];
        for f in facs {
            match f.val {
                Val::Eye(s) => coef = times(&coef, &s),
                Val::Kron(ref a, ref b) if a.is_identity() && b.is_identity() => {}
                _ => fs.push(f),
            }
        }
        // diag(a) diag(b) = diag(a ∘ b); (A ⊗ I)(B ⊗ I) = (A B ⊗ I); (I ⊗ A)(I ⊗ B) = (I ⊗ A B)
        let mut merged: Vec<Fac> = vec![];
        for f in fs {
            let Some(last) = merged.last_mut() else {
                merged.push(f);
                continue;
            };
            match (&last.val, &f.val) {
                (Val::Diag(a), Val::Diag(b)) => last.val = Val::Diag(format!("({a} * {b})")),
                (Val::Kron(a1, b1), Val::Kron(a2, b2))
                    if b1.is_identity() && b2.is_identity() && b1.shape == b2.shape =>
                {
                    let ab = self.product(&[(**a1).clone(), (**a2).clone()]);
                    let sh = Shape::new(a1.shape.rows.clone(), a2.shape.cols.clone());
                    let eye = (**b1).clone();
                    *last = kron(fac_of(Val::Dense(ab), sh), eye);
                }
                (Val::Kron(a1, b1), Val::Kron(a2, b2))
                    if a1.is_identity() && a2.is_identity() && a1.shape == a2.shape =>
                {
                    let ab = self.product(&[(**b1).clone(), (**b2).clone()]);
                    let sh = Shape::new(b1.shape.rows.clone(), b2.shape.cols.clone());
                    let eye = (**a1).clone();
                    *last = kron(eye, fac_of(Val::Dense(ab), sh));
                }
                _ => merged.push(f),
            }
        }
        // (A ⊗ I) diag(d) (B ⊗ I) and (I ⊗ A) diag(d) (I ⊗ B): one einsum, no Kronecker
        let mut fs: Vec<Fac> = vec![];
        let mut i = 0;
        while i < merged.len() {
            if i + 2 < merged.len() {
                if let Some(code) =
                    self.kron_diag_kron(&merged[i], &merged[i + 1], &merged[i + 2], &coef)
                {
                    coef = None;
                    let sh = Shape::new(
                        merged[i].shape.rows.clone(),
                        merged[i + 2].shape.cols.clone(),
                    );
                    fs.push(fac_of(Val::Dense(code), sh));
                    i += 3;
                    continue;
                }
            }
            fs.push(merged[i].clone());
            i += 1;
        }
        let code = self.product_with_coef(coef, fs);
        if shape.is_scalar() && !code.starts_with("_scalar(") {
            format!("_scalar({code})")
        } else {
            code
        }
    }

    /// `(A ⊗ I) diag(d) (B ⊗ I)` (or with the identity first) assembled directly.
    fn kron_diag_kron(
        &mut self,
        l: &Fac,
        m: &Fac,
        r: &Fac,
        coef: &Option<String>,
    ) -> Option<String> {
        let (Val::Kron(la, lb), Val::Diag(d), Val::Kron(ra, rb)) = (&l.val, &m.val, &r.val) else {
            return None;
        };
        let (a, b, eye, left) = if lb.is_identity() && rb.is_identity() && lb.shape == rb.shape {
            (la, ra, lb, false)
        } else if la.is_identity() && ra.is_identity() && la.shape == ra.shape {
            (lb, rb, la, true)
        } else {
            return None;
        };
        if a.shape.is_scalar() || b.shape.is_scalar() {
            return None;
        }
        let ca = self.materialise(a);
        let cb = self.materialise(b);
        let d = scaled(coef, d.clone());
        let n = self.dim(&eye.shape.rows);
        let left = if left { "True" } else { "False" };
        Some(format!("_kron_eye_diag({ca}, {d}, {cb}, {n}, {left})"))
    }

    /// Code of `coef F1 … Fk` where the factors are dense, diagonal, `ones` or Kronecker.
    fn product_with_coef(&mut self, coef: Option<String>, fs: Vec<Fac>) -> String {
        let mut fs = fs;
        let mut coef = coef;
        // a scale goes into a diagonal factor when there is one
        if coef.is_some() {
            if let Some(f) = fs.iter_mut().find(|f| matches!(f.val, Val::Diag(_))) {
                if let Val::Diag(v) = &f.val {
                    f.val = Val::Diag(scaled(&coef, v.clone()));
                    coef = None;
                }
            }
        }
        let code = match fs.as_slice() {
            [] => "1.0".to_string(),
            [p, Fac {
                val: Val::Diag(d), ..
            }, q]
                if !matches!(p.val, Val::Diag(_)) && !matches!(q.val, Val::Diag(_)) =>
            {
                let (cp, cq) = (self.materialise(p), self.materialise(q));
                format!("_pdq({cp}, {d}, {cq})")
            }
            _ => self.product(&fs),
        };
        scaled(&coef, code)
    }

    /// Code of F1 … Fk: diagonal factors applied to a neighbour, then the dense chain
    /// ordered at run time.
    pub(super) fn product(&mut self, fs: &[Fac]) -> String {
        // (A ⊗ I) Y and (I ⊗ A) Y through reshapes; Y (A ⊗ I) = ((Aᵀ ⊗ I) Yᵀ)ᵀ
        if fs.len() > 1 {
            if let Some((i, a, eye_first, m)) = fs
                .iter()
                .enumerate()
                .find_map(|(i, f)| eye_kron(f).map(|(a, e, m)| (i, a, e, m)))
            {
                let m = self.dim(&m);
                let flag = if eye_first { "True" } else { "False" };
                if i + 1 < fs.len() {
                    let y = self.product(&fs[i + 1..]);
                    let a = self.materialise(&a);
                    let shape = Shape::new(
                        fs[i].shape.rows.clone(),
                        fs[fs.len() - 1].shape.cols.clone(),
                    );
                    let applied = format!("_kron_eye_apply({a}, {y}, {m}, {flag})");
                    let mut rest = fs[..i].to_vec();
                    rest.push(fac_of(Val::Dense(applied), shape));
                    return self.product(&rest);
                }
                let y = self.product(&fs[..i]);
                let at = self.materialise(&a.transposed());
                return format!(
                    "_kron_eye_apply({at}, {}, {m}, {flag}).T",
                    transposed_code(&y)
                );
            }
        }
        let mut dense: Vec<String> = vec![];
        let mut pending: Option<String> = None; // a diagonal waiting for its right neighbour
        for f in fs {
            match &f.val {
                Val::Diag(v) => {
                    pending = Some(match pending {
                        Some(p) => format!("({p} * {v})"),
                        None => v.clone(),
                    })
                }
                _ => {
                    let c = self.materialise(f);
                    dense.push(match pending.take() {
                        Some(d) => format!("({d} * {c})"),
                        None => c,
                    });
                }
            }
        }
        if let Some(d) = pending {
            match dense.pop() {
                Some(last) => dense.push(format!("({last} * {})", transposed_code(&d))),
                None => return format!("np.diagflat({d})"),
            }
        }
        match dense.len() {
            0 => "1.0".into(),
            1 => dense.remove(0),
            2 => format!("({} @ {})", dense[0], dense[1]),
            _ => format!("np.linalg.multi_dot([{}])", dense.join(", ")),
        }
    }

    /// The value of one node.
    pub(super) fn node(
        &mut self,
        node: &Math,
        names: &BTreeMap<Symbol, String>,
    ) -> Result<Val, NumpyError> {
        use Math::*;
        let d = |s: String| Ok(Val::Dense(s));
        match node {
            Add([a, b]) | Sub([a, b]) => {
                let op = if matches!(node, Add(_)) { "+" } else { "-" };
                Ok(self.add(a, b, op))
            }
            Neg([a]) => Ok(match self.fac(*a).val {
                Val::Diag(v) => Val::Diag(format!("(-{v})")),
                Val::Eye(s) => Val::Eye(Some(format!("(-{})", s.unwrap_or_else(|| "1.0".into())))),
                Val::Prod(s, fs) => Val::Prod(times(&Some("-1.0".into()), &s), fs),
                _ => Val::Dense(format!("(-{})", self.code(*a))),
            }),
            Mul([a, b]) => Ok(self.mul(a, b)),
            Div([a, b]) => {
                if let Val::Diag(v) = self.fac(*a).val {
                    let s = self.code(*b);
                    return Ok(Val::Diag(format!("({v} / {s})")));
                }
                d(format!("({} / {})", self.code(*a), self.code(*b)))
            }
            EDiv([a, b]) => {
                if self.fac(*a).val == Val::Ones && self.sh(a) == self.sh(b) {
                    return d(format!("(1.0 / {})", self.code(*b)));
                }
                d(format!("({} / {})", self.code(*a), self.code(*b)))
            }
            Hadamard([a, b]) => Ok(self.hadamard(a, b)),
            Kron([a, b]) => {
                if self.scalar(a) && self.scalar(b) {
                    return d(format!("({} * {})", self.code(*a), self.code(*b)));
                }
                let (fa, fb) = (self.fac(*a), self.fac(*b));
                if fa.is_identity() && fb.is_identity() {
                    return Ok(Val::Eye(None));
                }
                Ok(kron(fa, fb).val)
            }
            Transpose([a]) => Ok(self.fac(*a).transposed().val),
            Adjoint([a]) => {
                if self.scalar(a) {
                    d(format!("np.conj({})", self.code(*a)))
                } else {
                    d(format!("np.conj({}).T", self.code(*a)))
                }
            }
            Inv([a]) => {
                if self.scalar(a) {
                    d(format!("(1.0 / {})", self.code(*a)))
                } else if let Val::Diag(v) = self.fac(*a).val {
                    Ok(Val::Diag(format!("(1.0 / {v})")))
                } else {
                    d(format!("np.linalg.inv({})", self.code(*a)))
                }
            }
            Pow([a, k]) => {
                if self.scalar(a) {
                    return Ok(self.power(a, k));
                }
                let k = match self.num(k) {
                    Some(v) if v.fract() == 0.0 && v.abs() < 1e9 => (v as i64).to_string(),
                    _ => format!("int({})", self.code(*k)),
                };
                d(format!("np.linalg.matrix_power({}, {k})", self.code(*a)))
            }
            EPow([a, k]) => Ok(self.power(a, k)),
            Elementwise([f, a]) => d(self.elementwise(f, a)?),
            Apply([f, a]) => {
                let name = self.generic(f, "")?;
                let arg = flat(&self.code(*a), &self.sh(a));
                d(format!("{name}({arg})"))
            }
            Grad([f, a]) => {
                let name = self.generic(f, "_grad")?;
                let u = self.code(*a);
                let u = self.named(u);
                d(format!(
                    "np.reshape({name}({}), np.shape({u}))",
                    flat(&u, &self.sh(a))
                ))
            }
            Trace([a]) => d(self.trace(a)),
            Det([a]) if self.scalar(a) => d(self.code(*a)),
            Det([a]) => d(format!("np.linalg.det({})", self.code(*a))),
            LogDet([a]) if self.scalar(a) => d(format!("np.log({})", self.code(*a))),
            LogDet([a]) => d(format!("np.linalg.slogdet({})[1]", self.code(*a))),
            Sum([a]) => d(self.sum(a)),
            Norm([a]) => d(format!("np.linalg.norm({})", self.code(*a))),
            Norm1([a]) => d(format!("np.sum(np.abs({}))", self.code(*a))),
            LogSumExp([a]) => d(format!("_logsumexp({})", self.code(*a))),
            Softmax([a]) => d(format!("_softmax({})", self.code(*a))),
            Diag([a]) => Ok(self.diag(a)),
            Vec([a]) => {
                if self.scalar(a) || self.sh(a).cols.is_one() {
                    return Ok(self.fac(*a).val);
                }
                if self.fac(*a).val == Val::Ones {
                    return Ok(Val::Ones);
                }
                d(format!("np.reshape({}, (-1, 1), order='F')", self.code(*a)))
            }
            Conj([a]) => d(format!("np.conj({})", self.code(*a))),
            Real([a]) => d(format!("np.real({})", self.code(*a))),
            Imag([a]) => d(format!("np.imag({})", self.code(*a))),
            Fill(fill) => Ok(match fill.kind {
                FillKind::Commutation => {
                    let m = self.dim(&fill.shape.rows);
                    let n = self.dim(&fill.shape.cols);
                    Val::Dense(format!("_commutation({m}, {n})"))
                }
                FillKind::Zeros if fill.shape.is_scalar() => Val::Dense("0.0".into()),
                FillKind::Zeros => {
                    let (r, c) = (self.dim(&fill.shape.rows), self.dim(&fill.shape.cols));
                    Val::Dense(format!("np.zeros(({r}, {c}))"))
                }
                FillKind::Ones => Val::Ones,
                FillKind::Identity => Val::Eye(None),
                FillKind::Count => Val::Dense(format!("({})", self.dim(&fill.shape.count()))),
            }),
            Num(n) => {
                let v = n.value();
                if v.fract() == 0.0 && v.abs() < 1e15 {
                    d(format!("{v:.1}"))
                } else {
                    d(format!("{v:e}"))
                }
            }
            ImagUnit => d("1j".into()),
            Func(f) => d(f.to_string()),
            Var(v) => d(names.get(v).cloned().unwrap_or_else(|| v.to_string())),
            Commutation([a]) => d(format!("_commutation(*np.shape({}))", self.code(*a))),
            Hess([f, a]) => {
                let name = self.generic(f, "_hess")?;
                let u = self.code(*a);
                let u = self.named(u);
                d(format!(
                    "np.reshape({name}({}), (np.size({u}), np.size({u})))",
                    flat(&u, &self.sh(a))
                ))
            }
            Vjp(_) | Jvp(_) | Coef(_) | KronPerm(_) | Unbroadcast(_) | ZerosLike(_)
            | OnesLike(_) | EyeLike(_) | NCols(_) | Derive(_) => {
                Err(NumpyError::Unsupported(node.to_string()))
            }
        }
    }
}

/// A Kronecker product with an identity, `A ⊗ I_m` or `I_m ⊗ A` (A not 1×1): A, whether
/// the identity comes first, and m.
fn eye_kron(f: &Fac) -> Option<(Fac, bool, Dim)> {
    let Val::Kron(x, y) = &f.val else {
        return None;
    };
    if y.is_identity() && !x.shape.is_scalar() {
        Some(((**x).clone(), false, y.shape.rows.clone()))
    } else if x.is_identity() && !y.shape.is_scalar() {
        Some(((**y).clone(), true, x.shape.rows.clone()))
    } else {
        None
    }
}

/// A factor of this value and shape.
pub(super) fn fac_of(val: Val, shape: Shape) -> Fac {
    Fac { val, shape }
}

/// The Kronecker product of two factors.
fn kron(a: Fac, b: Fac) -> Fac {
    let shape = Shape::new(
        a.shape.rows.times(&b.shape.rows),
        a.shape.cols.times(&b.shape.cols),
    );
    fac_of(Val::Kron(Box::new(a), Box::new(b)), shape)
}

/// A column value as the 1-D array a generic function receives.
pub(super) fn flat(code: &str, shape: &Shape) -> String {
    if shape.cols.is_one() && !shape.is_scalar() {
        format!("_flat({code})")
    } else {
        code.to_string()
    }
}

impl Body {
    /// A dimension as Python: a product of sizes read off the parameters.
    pub fn dim(&mut self, d: &Dim) -> String {
        let mut parts = vec![];
        if d.coef != 1 || d.syms.is_empty() {
            parts.push(d.coef.to_string());
        }
        for s in &d.syms {
            let py = format!("_{}", spell_ascii(s.as_str()));
            self.dims.insert(*s, py.clone());
            parts.push(py);
        }
        parts.join(" * ")
    }
}
