//! Dimensions during inference (`coef · rigid… · flex…`) and their unification.

use super::*;

/// A dimension during inference: `coef · rigid… · flex…`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Mono {
    pub(super) coef: u64,
    /// Sorted by name.
    pub(super) rigid: Vec<Symbol>,
    /// Sorted; roots after [`Unifier::resolve`].
    pub(super) flex: Vec<usize>,
}

impl Mono {
    pub(super) fn lit(n: u64) -> Mono {
        Mono {
            coef: n,
            rigid: vec![],
            flex: vec![],
        }
    }

    pub(super) fn rigid(name: &str) -> Mono {
        Mono {
            coef: 1,
            rigid: vec![Symbol::from(name)],
            flex: vec![],
        }
    }

    pub(super) fn flex(v: usize) -> Mono {
        Mono {
            coef: 1,
            rigid: vec![],
            flex: vec![v],
        }
    }

    pub(super) fn is_one(&self) -> bool {
        self.coef == 1 && self.rigid.is_empty() && self.flex.is_empty()
    }

    pub(super) fn times(&self, other: &Mono) -> Mono {
        let mut rigid: Vec<Symbol> = self.rigid.iter().chain(&other.rigid).copied().collect();
        rigid.sort_by(|a, b| a.as_str().cmp(b.as_str()));
        let mut flex: Vec<usize> = self.flex.iter().chain(&other.flex).copied().collect();
        flex.sort_unstable();
        Mono {
            coef: self.coef.saturating_mul(other.coef),
            rigid,
            flex,
        }
    }

    /// The flexible variable this is, if it is exactly one.
    pub(super) fn single_flex(&self) -> Option<usize> {
        match (self.coef, self.rigid.as_slice(), self.flex.as_slice()) {
            (1, [], [f]) => Some(*f),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Failure {
    /// The two dimensions differ.
    Mismatch,
    /// A vector's flexible length would have to be 1.
    VectorOfOne(usize),
}

#[derive(Debug, Clone)]
pub(super) struct FlexVar {
    pub(super) parent: usize,
    pub(super) value: Option<Mono>,
    pub(super) can_be_one: bool,
}

#[derive(Debug, Clone, Default)]
pub(super) struct Unifier {
    pub(super) vars: Vec<FlexVar>,
}

impl Unifier {
    pub(super) fn fresh(&mut self, can_be_one: bool) -> Mono {
        let v = self.vars.len();
        self.vars.push(FlexVar {
            parent: v,
            value: None,
            can_be_one,
        });
        Mono::flex(v)
    }

    pub(super) fn find(&mut self, v: usize) -> usize {
        let mut root = v;
        while self.vars[root].parent != root {
            root = self.vars[root].parent;
        }
        let mut cur = v;
        while self.vars[cur].parent != root {
            let next = self.vars[cur].parent;
            self.vars[cur].parent = root;
            cur = next;
        }
        root
    }

    /// Substitutes solved variables (iteratively: the occurs check rules out cycles).
    pub(super) fn resolve(&mut self, m: &Mono) -> Mono {
        let mut out = Mono {
            coef: m.coef,
            rigid: m.rigid.clone(),
            flex: vec![],
        };
        let mut todo = m.flex.clone();
        while let Some(f) = todo.pop() {
            let r = self.find(f);
            match &self.vars[r].value {
                Some(v) => {
                    out.coef = out.coef.saturating_mul(v.coef);
                    out.rigid.extend(v.rigid.iter().copied());
                    todo.extend(v.flex.iter().copied());
                }
                None => out.flex.push(r),
            }
        }
        out.rigid.sort_by(|a, b| a.as_str().cmp(b.as_str()));
        out.flex.sort_unstable();
        out
    }

    /// Makes two dimensions equal: `Ok(true)` if done, `Ok(false)` if it cannot be decided
    /// yet (`n1·n2 = p`), an error if they differ.
    pub(super) fn unify(&mut self, a: &Mono, b: &Mono) -> std::result::Result<bool, Failure> {
        let mut a = self.resolve(a);
        let mut b = self.resolve(b);
        cancel(&mut a, &mut b);
        if a == b {
            return Ok(true);
        }
        if let Some(f) = a.single_flex() {
            return self.bind(f, b);
        }
        if let Some(f) = b.single_flex() {
            return self.bind(f, a);
        }
        if a.flex.is_empty() && b.flex.is_empty() {
            return Err(Failure::Mismatch);
        }
        // `n1·n2 = 1`: every factor is 1.
        for (x, y) in [(&a, &b), (&b, &a)] {
            if y.is_one() && x.coef == 1 && x.rigid.is_empty() {
                // Checked before any is bound, so that a failure leaves nothing bound.
                if let Some(&f) = x.flex.iter().find(|&&f| !self.vars[f].can_be_one) {
                    return Err(Failure::VectorOfOne(f));
                }
                for &f in &x.flex {
                    self.bind(f, Mono::lit(1))?;
                }
                return Ok(true);
            }
        }
        Ok(false)
    }

    pub(super) fn bind(&mut self, f: usize, value: Mono) -> std::result::Result<bool, Failure> {
        if value.flex.contains(&f) {
            return Err(Failure::Mismatch);
        }
        if value.is_one() && !self.vars[f].can_be_one {
            return Err(Failure::VectorOfOne(f));
        }
        if let Some(g) = value.single_flex() {
            let keep = self.vars[f].can_be_one && self.vars[g].can_be_one;
            self.vars[f].parent = g;
            self.vars[g].can_be_one = keep;
        } else {
            self.vars[f].value = Some(value);
        }
        Ok(true)
    }

    pub(super) fn is_one(&mut self, m: &Mono) -> bool {
        self.resolve(m).is_one()
    }
}

/// Removes common factors: `n·a = n·b` becomes `a = b` (dimensions are positive).
pub(super) fn cancel(a: &mut Mono, b: &mut Mono) {
    let g = gcd(a.coef, b.coef);
    if g > 1 {
        a.coef /= g;
        b.coef /= g;
    }
    let common_rigid = common(&a.rigid, &b.rigid);
    for s in common_rigid {
        remove_one(&mut a.rigid, &s);
        remove_one(&mut b.rigid, &s);
    }
    let common_flex = common(&a.flex, &b.flex);
    for f in common_flex {
        remove_one(&mut a.flex, &f);
        remove_one(&mut b.flex, &f);
    }
}

pub(super) fn common<T: PartialEq + Clone>(a: &[T], b: &[T]) -> Vec<T> {
    let mut rest = b.to_vec();
    let mut out = vec![];
    for x in a {
        if let Some(i) = rest.iter().position(|y| y == x) {
            rest.remove(i);
            out.push(x.clone());
        }
    }
    out
}

pub(super) fn remove_one<T: PartialEq>(v: &mut Vec<T>, x: &T) {
    if let Some(i) = v.iter().position(|y| y == x) {
        v.remove(i);
    }
}

pub(super) fn gcd(a: u64, b: u64) -> u64 {
    if b == 0 {
        a
    } else {
        gcd(b, a % b)
    }
}

/// A shape during inference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct ShapeT {
    pub(super) rows: Mono,
    pub(super) cols: Mono,
}

impl ShapeT {
    pub(super) fn scalar() -> ShapeT {
        ShapeT {
            rows: Mono::lit(1),
            cols: Mono::lit(1),
        }
    }

    pub(super) fn new(rows: Mono, cols: Mono) -> ShapeT {
        ShapeT { rows, cols }
    }

    pub(super) fn transposed(&self) -> ShapeT {
        ShapeT::new(self.cols.clone(), self.rows.clone())
    }
}
