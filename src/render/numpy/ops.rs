//! The lowering of the operations that keep or apply structure: sums, products,
//! Hadamard products, powers, traces, sums of entries and `diag`.

use super::lower::{fac_of, scaled, times, Body, Fac, Val};
use super::{spell_ascii, NumpyError};
use crate::lang::dims::Shape;
use crate::lang::Math;
use egg::Id;

/// A product operand split into its scale, its leading diagonal and the rest.
fn leading_diag(f: &Fac) -> (Option<String>, Option<String>, Vec<Fac>) {
    let (s, fs) = match &f.val {
        Val::Prod(s, fs) => (s.clone(), fs.clone()),
        _ => return (None, None, vec![]),
    };
    let mut diag: Option<String> = None;
    let mut rest = fs.as_slice();
    while let Some((
        Fac {
            val: Val::Diag(v), ..
        },
        tail,
    )) = rest.split_first()
    {
        diag = Some(match diag {
            Some(d) => format!("({d} * {v})"),
            None => v.clone(),
        });
        rest = tail;
    }
    (s, diag, rest.to_vec())
}

impl Body {
    /// `a + b` or `a - b`.
    pub(super) fn add(&mut self, a: &Id, b: &Id, op: &str) -> Val {
        let (fa, fb) = (self.fac(*a), self.fac(*b));
        if fa.shape == fb.shape && !fa.shape.is_scalar() {
            let one = |s: &Option<String>| s.clone().unwrap_or_else(|| "1.0".into());
            match (&fa.val, &fb.val) {
                (Val::Diag(x), Val::Diag(y)) => return Val::Diag(format!("({x} {op} {y})")),
                (Val::Diag(x), Val::Eye(s)) => return Val::Diag(format!("({x} {op} {})", one(s))),
                (Val::Eye(s), Val::Diag(y)) => return Val::Diag(format!("({} {op} {y})", one(s))),
                _ => {}
            }
            // D1 R ± D2 R = diag(d1 ± d2) R
            let (sa, da, ra) = leading_diag(&fa);
            let (sb, db, rb) = leading_diag(&fb);
            if !ra.is_empty() && ra == rb && (da.is_some() || db.is_some()) {
                let side = |s: Option<String>, d: Option<String>| match d {
                    Some(d) => scaled(&s, d),
                    None => one(&s),
                };
                let v = format!("({} {op} {})", side(sa, da), side(sb, db));
                let sq = Shape::new(fa.shape.rows.clone(), fa.shape.rows.clone());
                let mut fs = vec![fac_of(Val::Diag(v), sq)];
                fs.extend(ra);
                return Val::Prod(None, fs);
            }
        }
        Val::Dense(format!("({} {op} {})", self.code(*a), self.code(*b)))
    }

    /// `a b`: a scaling when an operand is 1×1, else a matrix product kept as a chain.
    pub(super) fn mul(&mut self, a: &Id, b: &Id) -> Val {
        if self.scalar(a) || self.scalar(b) {
            let (s, m) = if self.scalar(a) { (a, b) } else { (b, a) };
            if self.scalar(m) {
                return Val::Dense(format!("({} * {})", self.code(*a), self.code(*b)));
            }
            let sc = Some(self.code(*s));
            let f = self.fac(*m);
            return match f.val {
                Val::Diag(v) => Val::Diag(scaled(&sc, v)),
                Val::Eye(t) => Val::Eye(times(&sc, &t)),
                Val::Prod(t, fs) => Val::Prod(times(&sc, &t), fs),
                Val::Kron(..) | Val::Dense(_) => Val::Prod(sc, vec![f]),
                _ => Val::Dense(scaled(&sc, self.code(*m))),
            };
        }
        // (P ± Q) v = P v ± Q v: no matrix sum is formed next to a vector
        if let Some(v) = self.distribute(a, b) {
            return v;
        }
        let (sa, mut fs) = Body::factors(self.fac(*a));
        let (sb, fb) = Body::factors(self.fac(*b));
        fs.extend(fb);
        let s = times(&sa, &sb);
        if fs.is_empty() {
            Val::Eye(s)
        } else {
            Val::Prod(s, fs)
        }
    }

    /// `(P ± Q) v` as `P v ± Q v` for a column v (or `vᵀ (P ± Q)` for a row).
    fn distribute(&mut self, a: &Id, b: &Id) -> Option<Val> {
        let (sum, other, right) = if self.sh(b).cols.is_one() {
            (a, b, true)
        } else if self.sh(a).rows.is_one() {
            (b, a, false)
        } else {
            return None;
        };
        let (x, y, op) = match &self.nodes[usize::from(*sum)] {
            Math::Add([x, y]) => (*x, *y, "+"),
            Math::Sub([x, y]) => (*x, *y, "-"),
            _ => return None,
        };
        let plain = matches!(self.vals[usize::from(*sum)], Val::Dense(_));
        if self.uses[usize::from(*sum)] != 1 || !plain || self.scalar(&x) || self.scalar(&y) {
            return None;
        }
        let shape = if right {
            Shape::new(self.sh(sum).rows, self.sh(other).cols)
        } else {
            Shape::new(self.sh(other).rows, self.sh(sum).cols)
        };
        // the vector is computed once, named, and used in both products
        let v = self.code(*other);
        let v = fac_of(Val::Dense(self.named(v)), self.sh(other));
        let term = |body: &mut Body, t: Id| {
            let (st, mut ft) = Body::factors(body.fac(t));
            let (sv, fv) = Body::factors(v.clone());
            let s = times(&st, &sv);
            if right {
                ft.extend(fv);
            } else {
                let mut fv = fv;
                fv.extend(ft);
                ft = fv;
            }
            body.materialise(&fac_of(Val::Prod(s, ft), shape.clone()))
        };
        let (px, py) = (term(self, x), term(self, y));
        Some(Val::Dense(format!("({px} {op} {py})")))
    }

    /// `a ∘ b`.
    pub(super) fn hadamard(&mut self, a: &Id, b: &Id) -> Val {
        let (fa, fb) = (self.fac(*a), self.fac(*b));
        if fa.shape == fb.shape {
            match (&fa.val, &fb.val) {
                (Val::Ones, x) | (x, Val::Ones) => return x.clone(),
                (Val::Diag(x), Val::Diag(y)) => return Val::Diag(format!("({x} * {y})")),
                (Val::Eye(s), Val::Diag(v)) | (Val::Diag(v), Val::Eye(s)) => {
                    return Val::Diag(scaled(s, v.clone()))
                }
                (Val::Eye(s), Val::Eye(t)) => return Val::Eye(times(s, t)),
                _ => {}
            }
        }
        Val::Dense(format!("({} * {})", self.code(*a), self.code(*b)))
    }

    /// `a.^k` (or a scalar `a^k`): `.^0` is ones, `.^1` the value itself.
    pub(super) fn power(&mut self, a: &Id, k: &Id) -> Val {
        match self.num(k) {
            Some(1.0) => self.fac(*a).val,
            Some(0.0) if self.scalar(a) => Val::Dense("1.0".into()),
            Some(0.0) => Val::Ones,
            _ => Val::Dense(format!("({} ** {})", self.code(*a), self.code(*k))),
        }
    }

    /// `tr(a)`: a 1×1 value is its own trace; `tr(A B)` without forming `A B`.
    pub(super) fn trace(&mut self, a: &Id) -> String {
        if self.scalar(a) {
            return self.code(*a);
        }
        let f = self.fac(*a);
        match f.val {
            Val::Diag(v) => format!("np.sum({v})"),
            Val::Eye(s) => scaled(&s, format!("float({})", self.dim(&f.shape.rows))),
            Val::Ones => format!("float({})", self.dim(&f.shape.rows)),
            Val::Prod(s, fs) if fs.len() >= 2 && !matches!(fs[0].val, Val::Diag(_)) => {
                let first = self.materialise(&fs[0]);
                let rest_shape = Shape::new(fs[1].shape.rows.clone(), f.shape.cols.clone());
                let rest = self.materialise(&fac_of(Val::Prod(None, fs[1..].to_vec()), rest_shape));
                scaled(&s, format!("np.einsum('ij,ji->', {first}, {rest})"))
            }
            _ => format!("np.trace({})", self.code(*a)),
        }
    }

    /// `sum(a)`: `sum(A ∘ B)` as an inner product without forming `A ∘ B`.
    pub(super) fn sum(&mut self, a: &Id) -> String {
        if self.scalar(a) {
            return self.code(*a);
        }
        if let Math::Hadamard([x, y]) = self.nodes[usize::from(*a)] {
            let plain = matches!(self.vals[usize::from(*a)], Val::Dense(_));
            if plain && self.uses[usize::from(*a)] == 1 && self.sh(&x) == self.sh(&y) {
                return format!("_inner({}, {})", self.code(x), self.code(y));
            }
        }
        let f = self.fac(*a);
        match f.val {
            Val::Diag(v) => format!("np.sum({v})"),
            Val::Eye(s) => scaled(&s, format!("float({})", self.dim(&f.shape.rows))),
            Val::Ones => {
                let (r, c) = (self.dim(&f.shape.rows), self.dim(&f.shape.cols));
                format!("float({r} * {c})")
            }
            _ => format!("np.sum({})", self.code(*a)),
        }
    }

    /// `diag(a)`: a diagonal matrix kept as its vector, or the diagonal of a square matrix.
    pub(super) fn diag(&mut self, a: &Id) -> Val {
        let f = self.fac(*a);
        if f.shape.is_scalar() {
            return f.val;
        }
        if f.shape.cols.is_one() {
            return match f.val {
                Val::Ones => Val::Eye(None),
                Val::Dense(v) => Val::Diag(v),
                _ => Val::Diag(self.code(*a)),
            };
        }
        match f.val {
            Val::Diag(v) => Val::Dense(v),
            Val::Eye(None) => Val::Ones,
            Val::Prod(s, fs)
                if fs.len() == 2 && fs.iter().all(|f| matches!(f.val, Val::Dense(_))) =>
            {
                let (x, y) = (self.materialise(&fs[0]), self.materialise(&fs[1]));
                Val::Dense(scaled(
                    &s,
                    format!("np.einsum('ij,ji->i', {x}, {y})[:, None]"),
                ))
            }
            _ => Val::Dense(format!("np.diag({}).reshape(-1, 1)", self.code(*a))),
        }
    }

    /// An element-wise function applied to `a`.
    pub(super) fn elementwise(&mut self, f: &Id, a: &Id) -> Result<String, NumpyError> {
        let arg = self.code(*a);
        let leaf = self.code(*f);
        let func: crate::lang::Func = leaf
            .parse()
            .map_err(|_| NumpyError::Unsupported(leaf.clone()))?;
        if !func.is_builtin() {
            let suffix = match func.order {
                0 => "".to_string(),
                1 => "_prime".to_string(),
                k => format!("_prime{k}"),
            };
            let name = format!("{}{suffix}", spell_ascii(func.name.as_str()));
            self.generic_params.insert(name.clone());
            return Ok(format!("{name}({arg})"));
        }
        let spelling = crate::lang::builtins::elementwise(func.name.as_str()).and_then(|b| b.numpy);
        let template = match (spelling, func.order) {
            (Some(s), 0) => s.f,
            (Some(s), 1) => {
                s.d1.ok_or_else(|| NumpyError::Unsupported(func.to_string()))?
            }
            _ => return Err(NumpyError::Unsupported(func.to_string())),
        };
        Ok(template.replace("{}", &arg))
    }

    /// The parameter name of a generic scalar-valued function (`L`, `L_grad`).
    pub(super) fn generic(&mut self, f: &Id, suffix: &str) -> Result<String, NumpyError> {
        let leaf = self.code(*f);
        let func: crate::lang::Func = leaf
            .parse()
            .map_err(|_| NumpyError::Unsupported(leaf.clone()))?;
        let name = format!("{}{suffix}", spell_ascii(func.name.as_str()));
        self.generic_params.insert(name.clone());
        Ok(name)
    }
}
