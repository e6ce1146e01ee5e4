//! The e-graph language of matrix expressions and its analysis (shape, free variables,
//! constants).
//!
//! Every node has a shape, computed from its children; `*` is the matrix product, or
//! scaling when one operand is 1×1. Helper operators (`vjp`, `unb`, `*-like`, `d`) only
//! exist during differentiation: extraction never returns them.

pub mod builtins;
pub mod dims;
pub mod greek;

use crate::lang::dims::Shape;
use egg::{define_language, Analysis, DidMerge, EGraph, Id, Language, RecExpr, Symbol};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;
use std::str::FromStr;

// egg's `define_language!` takes no attributes on variants, so each variant is documented
// by the `//` comment above it (its written form is the string on its left).
define_language! {
    /// A matrix expression. The written form is used by the rules in `src/engine/rules/`.
    /// Operators marked "helper" in the source only live inside the engine (see
    /// [`Math::is_helper`]); the others are the operators and built-in functions of the
    /// language, written as s-expressions such as `(* A x)` or `(tr A)`.
    #[allow(missing_docs)]
    pub enum Math {
        // `a + b` (a 1×1 operand is added to every entry of the other)
        "+" = Add([Id; 2]),
        // `a - b`
        "-" = Sub([Id; 2]),
        // `-a`
        "neg" = Neg([Id; 1]),
        // `a b`: matrix product, or scaling when an operand is 1×1
        "*" = Mul([Id; 2]),
        // `a / s`, s 1×1
        "/" = Div([Id; 2]),
        // `a ∘ b`: Hadamard product
        "∘" = Hadamard([Id; 2]),
        // `a ⊘ b`: element-wise division
        "⊘" = EDiv([Id; 2]),
        // `a ⊗ b`: Kronecker product
        "⊗" = Kron([Id; 2]),
        // `aᵀ`
        "T" = Transpose([Id; 1]),
        // `aᴴ`
        "H" = Adjoint([Id; 1]),
        // `a⁻¹`
        "inv" = Inv([Id; 1]),
        // `a^k`: scalar power (any exponent) or square-matrix power (integer literal)
        "pow" = Pow([Id; 2]),
        // `a.^p`: element-wise power, p 1×1
        "epow" = EPow([Id; 2]),
        // `f(a)` for an element-wise function leaf `f` (built in or generic, any order)
        "ew" = Elementwise([Id; 2]),
        // `L(a)` for a generic scalar-valued function leaf `L`
        "apply" = Apply([Id; 2]),
        // `∇L(a)`: the gradient of a generic scalar-valued `L`, shaped like `a`
        "grad" = Grad([Id; 2]),
        "tr" = Trace([Id; 1]),
        "det" = Det([Id; 1]),
        "logdet" = LogDet([Id; 1]),
        "sum" = Sum([Id; 1]),
        "norm" = Norm([Id; 1]),
        "norm1" = Norm1([Id; 1]),
        "logsumexp" = LogSumExp([Id; 1]),
        // vector → diagonal matrix, square matrix → its diagonal
        "diag" = Diag([Id; 1]),
        "vec" = Vec([Id; 1]),
        "softmax" = Softmax([Id; 1]),
        "conj" = Conj([Id; 1]),
        "real" = Real([Id; 1]),
        "imag" = Imag([Id; 1]),
        // `commutation(A)`: the commutation matrix K with K vec(A) = vec(Aᵀ)
        "commutation" = Commutation([Id; 1]),
        // `∇²L(u)`: the Hessian of a generic scalar-valued L at a column u
        "hess" = Hess([Id; 2]),
        // `ⅈ`: the imaginary unit (1×1, complex)
        "ⅈ" = ImagUnit,
        // helper: `(vjp G E X)`, the gradient wrt X of ⟨G, E⟩ = sum(G ∘ E)
        "vjp" = Vjp([Id; 3]),
        // helper: `(jvp E X V)`, the derivative of E at X in the direction V
        "jvp" = Jvp([Id; 3]),
        // helper: `(coef M D)`, the matrix J with vec(M) = J vec(D), for M linear in D
        "coef" = Coef([Id; 2]),
        // helper: `(unb G A)`, G summed down to the shape of A (undoes broadcasting)
        "unb" = Unbroadcast([Id; 2]),
        // helper: zero matrix shaped like its operand
        "zeros-like" = ZerosLike([Id; 1]),
        // helper: matrix of ones shaped like its operand
        "ones-like" = OnesLike([Id; 1]),
        // helper: identity matrix of the operand's row count
        "eye-like" = EyeLike([Id; 1]),
        // helper: `(kperm A B)`, P with vec(A ⊗ B) = P (vec A ⊗ vec B) for these shapes
        "kperm" = KronPerm([Id; 2]),
        // helper: the derivative of a function leaf (`σ` → `σ'`)
        "d" = Derive([Id; 1]),
        Fill(Fill),
        Num(Number),
        Func(Func),
        Var(Symbol),
    }
}

impl Math {
    /// Helper operators: they never appear in a result.
    pub fn is_helper(&self) -> bool {
        matches!(
            self,
            Math::Vjp(_)
                | Math::Jvp(_)
                | Math::Coef(_)
                | Math::Unbroadcast(_)
                | Math::ZerosLike(_)
                | Math::OnesLike(_)
                | Math::EyeLike(_)
                | Math::KronPerm(_)
                | Math::Derive(_)
        )
    }
}

/// A real number leaf, stored by its bits so that it can be hashed and ordered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Number(u64);

impl Number {
    /// The number `v`; `-0` is stored as `0`, so the two are one leaf.
    pub fn new(v: f64) -> Number {
        // -0 and 0 are one number.
        Number(if v == 0.0 {
            0f64.to_bits()
        } else {
            v.to_bits()
        })
    }
    /// The number as an `f64`.
    pub fn value(self) -> f64 {
        f64::from_bits(self.0)
    }
}

impl fmt::Display for Number {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.value())
    }
}

impl FromStr for Number {
    type Err = std::num::ParseFloatError;
    fn from_str(s: &str) -> Result<Number, Self::Err> {
        s.parse::<f64>().map(Number::new)
    }
}

/// What a [`Fill`] leaf is filled with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum FillKind {
    /// `zeros[m,n]`: every entry zero.
    Zeros,
    /// `ones[m,n]`: every entry one.
    Ones,
    /// `I[n,n]`: the identity matrix.
    Identity,
    /// The commutation matrix K of an m×n matrix (mn×mn); the fill's shape is m×n.
    Commutation,
    /// `N[m,n]`: the number of entries of an m×n matrix, m·n, a 1×1 value (written as
    /// the product of its dimensions, `m n`: a dimension name is a value); the fill's
    /// shape is m×n.
    Count,
}

/// A constant matrix of a given shape: `zeros[m,n]`, `ones[m,n]`, `I[n,n]`; and `K[m,n]`,
/// the commutation matrix of an m×n matrix (of shape mn×mn, see [`Fill::value_shape`]).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Fill {
    /// What the matrix is filled with.
    pub kind: FillKind,
    /// The fill's shape as written (for [`FillKind::Commutation`], that of the permuted
    /// matrix, not K's).
    pub shape: Shape,
}

impl Fill {
    /// The shape of the filled matrix.
    pub fn value_shape(&self) -> Shape {
        match self.kind {
            FillKind::Commutation => {
                let n = self.shape.rows.times(&self.shape.cols);
                Shape::new(n.clone(), n)
            }
            FillKind::Count => Shape::scalar(),
            _ => self.shape.clone(),
        }
    }
}

impl fmt::Display for Fill {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = match self.kind {
            FillKind::Zeros => "zeros",
            FillKind::Ones => "ones",
            FillKind::Identity => "I",
            FillKind::Commutation => "K",
            FillKind::Count => "N",
        };
        write!(f, "{name}[{},{}]", self.shape.rows, self.shape.cols)
    }
}

impl FromStr for Fill {
    type Err = String;
    fn from_str(s: &str) -> Result<Fill, String> {
        let (name, rest) = s.split_once('[').ok_or("not a fill")?;
        let kind = match name {
            "zeros" => FillKind::Zeros,
            "ones" => FillKind::Ones,
            "I" => FillKind::Identity,
            "K" => FillKind::Commutation,
            "N" => FillKind::Count,
            _ => return Err("not a fill".into()),
        };
        let inner = rest.strip_suffix(']').ok_or("not a fill")?;
        let (r, c) = inner.split_once(',').ok_or("not a fill")?;
        Ok(Fill {
            kind,
            shape: Shape::new(r.parse()?, c.parse()?),
        })
    }
}

/// A function leaf: a built-in or generic function and how often it is differentiated.
/// Written `@σ`, `@σ'`, `@σ''`, `@exp`, `@L` (for `L : scalar-valued`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Func {
    /// The function's name as written (`σ`, `exp`, `L`).
    pub name: Symbol,
    /// How often it is differentiated: 0 for `σ`, 1 for `σ'`, 2 for `σ''`.
    pub order: u8,
}

impl Func {
    /// The function `name` itself, not differentiated.
    pub fn new(name: &str) -> Func {
        Func {
            name: Symbol::from(name),
            order: 0,
        }
    }

    /// The derivative of the function: the same name, one order higher.
    pub fn derivative(self) -> Func {
        Func {
            name: self.name,
            order: self.order.saturating_add(1),
        }
    }

    /// A built-in element-wise function (whose derivatives are rules), not a generic one.
    pub fn is_builtin(self) -> bool {
        builtins::elementwise(self.name.as_str()).is_some()
    }
}

impl fmt::Display for Func {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "@{}{}", self.name, "'".repeat(self.order as usize))
    }
}

impl FromStr for Func {
    type Err = String;
    fn from_str(s: &str) -> Result<Func, String> {
        let body = s.strip_prefix('@').ok_or("not a function")?;
        let name = body.trim_end_matches('\'');
        if name.is_empty() {
            return Err("not a function".into());
        }
        Ok(Func {
            name: Symbol::from(name),
            order: (body.len() - name.len()) as u8,
        })
    }
}

/// What the analysis knows about one e-class.
#[derive(Debug, Clone, PartialEq)]
pub struct Data {
    /// `None` only for function leaves.
    pub shape: Option<Shape>,
    /// Variables the value may depend on (an over-approximation), as bits of
    /// [`MathAnalysis::var_bit`].
    pub free: VarSet,
    /// The value, for 1×1 constants.
    pub constant: Option<f64>,
    /// Every entry is zero.
    pub zero: bool,
    /// The identity matrix.
    pub identity: bool,
    /// Every entry is one.
    pub ones: bool,
    /// The function, for function leaves.
    pub func: Option<Func>,
    /// The value is real whatever the (complex) variables are.
    pub real: bool,
}

/// A merge of two classes whose shapes differ: an unsound rule, never a user error.
#[derive(Debug, Clone, PartialEq)]
pub struct ShapeConflict {
    /// The shape of the first class merged (`None` when a node itself was ill-shaped).
    pub first: Option<Shape>,
    /// The shape of the second class merged (`None` when a node itself was ill-shaped).
    pub second: Option<Shape>,
    /// The ill-shaped node and why, or `merge` for a merge of two shaped classes.
    pub node: String,
}

/// The analysis: variable shapes (and which variables are complex) in, shape conflicts
/// out.
#[derive(Debug, Default, Clone)]
pub struct MathAnalysis {
    /// The shape of every variable the e-graph may hold (directions included).
    pub var_shapes: BTreeMap<Symbol, Shape>,
    /// The variables declared complex (`C`); the others are real.
    pub complex_vars: BTreeSet<Symbol>,
    /// Every shape conflict met, in order; any is a bug in a rule.
    pub conflicts: Vec<ShapeConflict>,
    /// The bit of each variable in [`Data::free`]: the declared ones, then those met.
    var_bits: HashMap<Symbol, usize>,
}

impl MathAnalysis {
    /// An analysis of real variables with these shapes and no conflicts yet.
    pub fn new(var_shapes: BTreeMap<Symbol, Shape>) -> MathAnalysis {
        // The declared variables take the first bits in name order, so analyses of the
        // same variables agree on them (the rule test compares facts across e-graphs).
        let var_bits = var_shapes
            .keys()
            .enumerate()
            .map(|(i, &v)| (v, i))
            .collect();
        MathAnalysis {
            var_shapes,
            complex_vars: BTreeSet::new(),
            conflicts: vec![],
            var_bits,
        }
    }

    /// The bit that stands for variable `v` in [`Data::free`] (given on first use).
    pub fn var_bit(&mut self, v: Symbol) -> usize {
        let next = self.var_bits.len();
        *self.var_bits.entry(v).or_insert(next)
    }

    /// The set of these variables, as [`Data::free`] writes it.
    pub fn var_set(&mut self, vars: impl IntoIterator<Item = Symbol>) -> VarSet {
        let mut set = VarSet::default();
        for v in vars {
            set.insert(self.var_bit(v));
        }
        set
    }

    /// Mark these variables complex.
    pub fn with_complex(mut self, vars: impl IntoIterator<Item = Symbol>) -> MathAnalysis {
        self.complex_vars.extend(vars);
        self
    }
}

/// Whether a node's value is real, given whether its children's are.
fn node_is_real(egraph: &MathEGraph, enode: &Math) -> bool {
    let real = |id: &Id| egraph[*id].data.real;
    match enode {
        Math::Var(v) => !egraph.analysis.complex_vars.contains(v),
        Math::Num(_) | Math::Fill(_) | Math::Func(_) => true,
        Math::ImagUnit => false,
        Math::Real(_) | Math::Imag(_) | Math::Norm(_) | Math::Norm1(_) => true,
        Math::Elementwise([f, a]) => {
            real(a)
                || egraph[*f]
                    .data
                    .func
                    .is_some_and(|f| f.name.as_str() == "abs" && f.order == 0)
        }
        // eᴴ e is real.
        Math::Mul([a, b]) => {
            (real(a) && real(b))
                || egraph[*a]
                    .nodes
                    .iter()
                    .any(|n| matches!(n, Math::Adjoint([c]) if egraph.find(*c) == egraph.find(*b)))
        }
        // Helpers and the function argument of vjp do not decide realness of the result.
        Math::Vjp([g, e, x]) => real(g) && real(e) && real(x),
        other => other.children().iter().all(real),
    }
}

/// The e-graph of [`Math`] terms with their shapes.
pub type MathEGraph = EGraph<Math, MathAnalysis>;

/// The shape of a node from its children's shapes; `Err` describes an ill-typed node.
pub fn node_shape(
    node: &Math,
    child: &dyn Fn(Id) -> Option<Shape>,
    var_shape: &dyn Fn(Symbol) -> Option<Shape>,
) -> Result<Option<Shape>, String> {
    use Math::*;
    let get = |id: &Id| child(*id).ok_or_else(|| "a function used as a value".to_string());
    let same = |a: &Id, b: &Id| -> Result<Shape, String> {
        let (sa, sb) = (get(a)?, get(b)?);
        if sa.is_scalar() {
            Ok(sb)
        } else if sb.is_scalar() || sa == sb {
            Ok(sa)
        } else {
            Err(format!("shapes {sa} and {sb} differ"))
        }
    };
    let square = |a: &Id| -> Result<Shape, String> {
        let sa = get(a)?;
        if sa.rows == sa.cols {
            Ok(sa)
        } else {
            Err(format!("a {sa} matrix is not square"))
        }
    };
    let scalar = Ok(Some(Shape::scalar()));
    let shape = match node {
        Add([a, b]) | Sub([a, b]) | Hadamard([a, b]) | EDiv([a, b]) => same(a, b)?,
        Mul([a, b]) => {
            let (sa, sb) = (get(a)?, get(b)?);
            if sa.cols == sb.rows {
                Shape::new(sa.rows, sb.cols)
            } else if sa.is_scalar() {
                sb
            } else if sb.is_scalar() {
                sa
            } else {
                return Err(format!("cannot multiply {sa} by {sb}"));
            }
        }
        Div([a, b]) => {
            let sb = get(b)?;
            if !sb.is_scalar() {
                return Err(format!("division by a {sb} matrix"));
            }
            get(a)?
        }
        Kron([a, b]) => {
            let (sa, sb) = (get(a)?, get(b)?);
            Shape::new(sa.rows.times(&sb.rows), sa.cols.times(&sb.cols))
        }
        Transpose([a]) | Adjoint([a]) => get(a)?.transposed(),
        Neg([a]) | Conj([a]) | Real([a]) | Imag([a]) | Softmax([a]) => get(a)?,
        Inv([a]) => square(a)?,
        Trace([a]) | Det([a]) | LogDet([a]) => {
            square(a)?;
            Shape::scalar()
        }
        Pow([a, k]) | EPow([a, k]) => {
            if !get(k)?.is_scalar() {
                return Err("a matrix exponent".into());
            }
            match node {
                Pow(_) => square(a)?,
                _ => get(a)?,
            }
        }
        Elementwise([_, a]) | Grad([_, a]) => get(a)?,
        Apply(_) | Sum(_) | Norm(_) | Norm1(_) | LogSumExp(_) => return scalar,
        Diag([a]) => {
            let sa = get(a)?;
            if sa.cols.is_one() {
                Shape::new(sa.rows.clone(), sa.rows)
            } else {
                Shape::column(sa.rows)
            }
        }
        Vec([a]) => {
            let sa = get(a)?;
            Shape::column(sa.rows.times(&sa.cols))
        }
        Vjp([_, _, x]) => get(x)?,
        Jvp([e, _, _]) => get(e)?,
        Coef([m, d]) => {
            let (sm, sd) = (get(m)?, get(d)?);
            Shape::new(sm.rows.times(&sm.cols), sd.rows.times(&sd.cols))
        }
        Commutation([a]) => {
            let sa = get(a)?;
            let n = sa.rows.times(&sa.cols);
            Shape::new(n.clone(), n)
        }
        KronPerm([a, b]) => {
            let (sa, sb) = (get(a)?, get(b)?);
            let n = sa.rows.times(&sa.cols).times(&sb.rows).times(&sb.cols);
            Shape::new(n.clone(), n)
        }
        Hess([_, u]) => {
            let su = get(u)?;
            if !su.cols.is_one() {
                return Err(format!(
                    "the Hessian of a generic function at a {su} matrix"
                ));
            }
            Shape::new(su.rows.clone(), su.rows)
        }
        Unbroadcast([_, a]) | ZerosLike([a]) | OnesLike([a]) => get(a)?,
        EyeLike([a]) => {
            let sa = get(a)?;
            Shape::new(sa.rows.clone(), sa.rows)
        }
        Derive(_) | Func(_) => return Ok(None),
        Fill(f) => f.value_shape(),
        Num(_) | ImagUnit => Shape::scalar(),
        Var(v) => var_shape(*v).ok_or_else(|| format!("unknown variable {v}"))?,
    };
    Ok(Some(shape))
}

/// The value of a 1×1 node whose children are constants.
fn fold_constant(node: &Math, c: &dyn Fn(Id) -> Option<f64>) -> Option<f64> {
    use Math::*;
    let v = match node {
        Num(n) => n.value(),
        Fill(f) if f.kind == FillKind::Zeros => 0.0,
        Fill(f) if f.kind == FillKind::Count => f.shape.entries()? as f64,
        Fill(_) => 1.0,
        Add([a, b]) => c(*a)? + c(*b)?,
        Sub([a, b]) => c(*a)? - c(*b)?,
        Mul([a, b]) | Hadamard([a, b]) => c(*a)? * c(*b)?,
        Div([a, b]) | EDiv([a, b]) => c(*a)? / c(*b)?,
        Neg([a]) => -c(*a)?,
        Pow([a, b]) | EPow([a, b]) => c(*a)?.powf(c(*b)?),
        Transpose([a]) => c(*a)?,
        _ => return None,
    };
    v.is_finite().then_some(v)
}

impl Analysis<Math> for MathAnalysis {
    type Data = Data;

    fn make(egraph: &mut MathEGraph, enode: &Math, _id: Id) -> Data {
        let child_shape = |id: Id| egraph[id].data.shape.clone();
        let var_shapes = &egraph.analysis.var_shapes;
        let shape = match node_shape(enode, &child_shape, &|v| var_shapes.get(&v).cloned()) {
            Ok(s) => s,
            Err(why) => {
                let conflict = ShapeConflict {
                    first: None,
                    second: None,
                    node: format!("{enode}: {why}"),
                };
                egraph.analysis.conflicts.push(conflict);
                None
            }
        };
        let mut free = VarSet::default();
        if let Math::Var(v) = enode {
            free.insert(egraph.analysis.var_bit(*v));
        }
        for &c in enode.children() {
            free.union_with(&egraph[c].data.free);
        }
        let is_scalar = shape.as_ref().is_some_and(Shape::is_scalar);
        let constant = if is_scalar {
            fold_constant(enode, &|id| egraph[id].data.constant)
        } else {
            None
        };
        let zero = match enode {
            Math::Fill(f) => f.kind == FillKind::Zeros,
            Math::ZerosLike(_) => true,
            _ => constant == Some(0.0),
        };
        let identity = matches!(enode, Math::Fill(f) if f.kind == FillKind::Identity);
        // A fill of ones, its vec and its transpose (so `vec(onesᵀ) ∘ vec(onesᵀ)` is known
        // to be ones at once, where the Hessians of `‖B‖²` and `‖Bᵀ‖²` over a matrix
        // once grew without end).
        let ones = match enode {
            Math::Fill(f) => f.kind == FillKind::Ones,
            Math::OnesLike(_) => true,
            Math::Vec([c]) | Math::Transpose([c]) => egraph[*c].data.ones,
            _ => false,
        };
        let func = match enode {
            Math::Func(f) => Some(*f),
            Math::Derive([f]) => egraph[*f].data.func.map(Func::derivative),
            _ => None,
        };
        let real = node_is_real(egraph, enode);
        Data {
            shape,
            free,
            constant,
            zero,
            identity,
            ones,
            func,
            real,
        }
    }

    fn merge(&mut self, a: &mut Data, b: Data) -> DidMerge {
        if a.shape != b.shape {
            self.conflicts.push(ShapeConflict {
                first: a.shape.clone(),
                second: b.shape.clone(),
                node: "merge".into(),
            });
        }
        let mut changed_a = false;
        let mut changed_b = false;
        let common = a.free.intersection(&b.free);
        if common != a.free {
            changed_a = true;
        }
        if common != b.free {
            changed_b = true;
        }
        a.free = common;
        let mut flag = |mine: &mut bool, theirs: bool| {
            if *mine != theirs {
                if theirs {
                    changed_a = true;
                } else {
                    changed_b = true;
                }
                *mine |= theirs;
            }
        };
        flag(&mut a.zero, b.zero);
        flag(&mut a.identity, b.identity);
        flag(&mut a.ones, b.ones);
        flag(&mut a.real, b.real);
        match (a.constant, b.constant) {
            (None, Some(_)) => {
                a.constant = b.constant;
                changed_a = true;
            }
            (Some(_), None) => changed_b = true,
            _ => {}
        }
        match (a.func, b.func) {
            (None, Some(_)) => {
                a.func = b.func;
                changed_a = true;
            }
            (Some(_), None) => changed_b = true,
            _ => {}
        }
        DidMerge(changed_a, changed_b)
    }

    fn modify(egraph: &mut MathEGraph, id: Id) {
        merge_real_identities(egraph, id);
        expand_kron_perm(egraph, id);
        let data = egraph[id].data.clone();
        let leaf = if let Some(c) = data.constant {
            Some(Math::Num(Number::new(c)))
        } else if let (true, Some(shape)) = (data.zero, &data.shape) {
            Some(Math::Fill(Fill {
                kind: FillKind::Zeros,
                shape: shape.clone(),
            }))
        } else if let Some(f) = data.func {
            Some(Math::Func(f))
        } else {
            data.shape
                .as_ref()
                .and_then(|shape| fill_of_helper(egraph, id, shape))
        };
        if let Some(leaf) = leaf {
            if !egraph[id].nodes.contains(&leaf) {
                let new = egraph.add(leaf);
                egraph.union(id, new);
            }
            // A known constant or zero needs no other representation; pruning the rest
            // stops rules from building ever larger sums of numbers.
            if data.constant.is_some() || data.zero {
                egraph[id].nodes.retain(|n| n.is_leaf());
            }
        }
    }
}

/// For a real operand: conj(a) = real(a) = a, aᴴ = aᵀ, imag(a) = 0.
fn merge_real_identities(egraph: &mut MathEGraph, id: Id) {
    let mut same = vec![];
    let mut transposes = vec![];
    let mut zero = false;
    for node in &egraph[id].nodes {
        match node {
            Math::Conj([a]) | Math::Real([a]) if egraph[*a].data.real => same.push(*a),
            Math::Adjoint([a]) if egraph[*a].data.real => transposes.push(*a),
            Math::Imag([a]) if egraph[*a].data.real => zero = true,
            _ => {}
        }
    }
    // Unions between the very nodes (not the class), so that explanations name the step.
    for a in same {
        let node = egraph[id]
            .nodes
            .iter()
            .find(|n| matches!(n, Math::Conj([b]) | Math::Real([b]) if *b == a))
            .cloned();
        match node {
            Some(node) => {
                let n = egraph.add_uncanonical(node);
                egraph.union_trusted(n, a, "real-identity");
            }
            None => {
                egraph.union(id, a);
            }
        }
    }
    for a in transposes {
        let h = egraph.add_uncanonical(Math::Adjoint([a]));
        let t = egraph.add_uncanonical(Math::Transpose([a]));
        egraph.union_trusted(h, t, "real-adjoint");
    }
    if zero {
        if let Some(shape) = egraph[id].data.shape.clone() {
            let z = egraph.add(Math::Fill(Fill {
                kind: FillKind::Zeros,
                shape,
            }));
            egraph.union(id, z);
        }
    }
}

/// The `Fill` leaf a `ones-like`/`eye-like` helper or a `commutation` in this class
/// stands for.
fn fill_of_helper(egraph: &MathEGraph, id: Id, shape: &Shape) -> Option<Math> {
    egraph[id].nodes.iter().find_map(|n| {
        let (kind, shape) = match n {
            Math::OnesLike(_) => (FillKind::Ones, shape.clone()),
            Math::EyeLike(_) => (FillKind::Identity, shape.clone()),
            Math::Commutation([a]) => (FillKind::Commutation, egraph[*a].data.shape.clone()?),
            _ => return None,
        };
        Some(Math::Fill(Fill { kind, shape }))
    })
}

/// `(kperm A B)` as I_n ⊗ K[q,m] ⊗ I_p for A m×n and B p×q (Matrix Cookbook 10.2.2).
fn expand_kron_perm(egraph: &mut MathEGraph, id: Id) {
    let Some((sa, sb)) = egraph[id].nodes.iter().find_map(|n| match n {
        Math::KronPerm([a, b]) => Some((
            egraph[*a].data.shape.clone()?,
            egraph[*b].data.shape.clone()?,
        )),
        _ => None,
    }) else {
        return;
    };
    let fill = |kind, rows: &crate::lang::dims::Dim, cols: &crate::lang::dims::Dim| {
        Math::Fill(Fill {
            kind,
            shape: Shape::new(rows.clone(), cols.clone()),
        })
    };
    let i_n = egraph.add(fill(FillKind::Identity, &sa.cols, &sa.cols));
    let k = egraph.add(fill(FillKind::Commutation, &sb.cols, &sa.rows));
    let i_p = egraph.add(fill(FillKind::Identity, &sb.rows, &sb.rows));
    let left = egraph.add(Math::Kron([i_n, k]));
    let p = egraph.add(Math::Kron([left, i_p]));
    egraph.union(id, p);
}

/// A 1×1 identity or ones leaf is the number 1.
pub fn fill_is_one(f: &Fill) -> bool {
    f.kind != FillKind::Zeros && f.shape.is_scalar()
}

/// The sub-expression rooted at `id`, as an expression of its own.
pub fn subexpr(expr: &RecExpr<Math>, id: Id) -> RecExpr<Math> {
    expr[id].build_recexpr(|c| expr[c].clone())
}

/// Hash-consed nodes: equal expressions get equal ids. The one builder of shared terms.
#[derive(Debug, Clone, Default)]
pub struct HashCons {
    nodes: Vec<Math>,
    memo: HashMap<Math, Id>,
}

impl HashCons {
    /// The id of `node`, whose children are ids of this builder; added if new.
    pub fn add(&mut self, node: Math) -> Id {
        if let Some(&id) = self.memo.get(&node) {
            return id;
        }
        self.nodes.push(node.clone());
        let id = Id::from(self.nodes.len() - 1);
        self.memo.insert(node, id);
        id
    }

    /// The id of `node` (children ids of this builder), if it was added.
    pub fn lookup(&self, node: &Math) -> Option<Id> {
        self.memo.get(node).copied()
    }

    /// The id of every node of `e` (the root's last).
    pub fn intern_all(&mut self, e: &RecExpr<Math>) -> Vec<Id> {
        let mut map: Vec<Id> = Vec::with_capacity(e.as_ref().len());
        for node in e.as_ref() {
            let node = node.clone().map_children(|c| map[usize::from(c)]);
            map.push(self.add(node));
        }
        map
    }

    /// The id of the root of `e`.
    pub fn intern(&mut self, e: &RecExpr<Math>) -> Id {
        *self.intern_all(e).last().unwrap_or(&Id::from(0))
    }

    /// Every node so far, children before parents.
    pub fn nodes(&self) -> &[Math] {
        &self.nodes
    }

    /// Every node so far, as one expression.
    pub fn into_expr(self) -> RecExpr<Math> {
        RecExpr::from(self.nodes)
    }
}

/// The user's bindings, hash-consed once, so that the printers find which sub-terms of
/// each result are a binding by looking their nodes up (linear in the result, however
/// many results a run prints).
#[derive(Debug, Clone, Default)]
pub struct BindingTerms {
    terms: HashCons,
    names: HashMap<Id, String>,
}

impl BindingTerms {
    /// The table of `bindings` (name, expression), the first name kept for equal terms.
    pub fn new(bindings: &[(String, RecExpr<Math>)]) -> BindingTerms {
        let mut table = BindingTerms::default();
        for (name, e) in bindings {
            if e.as_ref().len() > 1 {
                if let Some(&root) = table.terms.intern_all(e).last() {
                    table.names.entry(root).or_insert_with(|| name.clone());
                }
            }
        }
        table
    }

    /// For each node of `expr`, the name of the binding it equals, if any.
    pub fn names_in<'a>(&'a self, expr: &RecExpr<Math>) -> Vec<Option<&'a str>> {
        let mut ids: Vec<Option<Id>> = Vec::with_capacity(expr.as_ref().len());
        for node in expr.as_ref() {
            let mut known = true;
            let node = node.clone().map_children(|c| {
                ids[usize::from(c)].unwrap_or_else(|| {
                    known = false;
                    c
                })
            });
            ids.push(if known {
                self.terms.lookup(&node)
            } else {
                None
            });
        }
        ids.iter()
            .map(|id| id.and_then(|id| self.names.get(&id)).map(String::as_str))
            .collect()
    }
}

/// A set of variables as bits (see [`MathAnalysis::var_bit`]): unions and intersections
/// cost a word per 64 variables, so deep expressions over many variables stay linear.
#[derive(Debug, Clone, Default)]
pub struct VarSet {
    /// Variables 0 to 63.
    low: u64,
    /// Variables from 64 on, 64 to a word.
    high: Vec<u64>,
}

impl VarSet {
    fn word(&self, i: usize) -> u64 {
        if i == 0 {
            self.low
        } else {
            self.high.get(i - 1).copied().unwrap_or(0)
        }
    }

    fn words(&self) -> usize {
        1 + self.high.len()
    }

    /// Add the variable of bit `bit`.
    pub fn insert(&mut self, bit: usize) {
        let (w, b) = (bit / 64, bit % 64);
        if w == 0 {
            self.low |= 1 << b;
        } else {
            if self.high.len() < w {
                self.high.resize(w, 0);
            }
            self.high[w - 1] |= 1 << b;
        }
    }

    /// Whether the variable of bit `bit` is in the set.
    pub fn contains(&self, bit: usize) -> bool {
        self.word(bit / 64) & (1 << (bit % 64)) != 0
    }

    /// Add every variable of `other`.
    pub fn union_with(&mut self, other: &VarSet) {
        self.low |= other.low;
        if self.high.len() < other.high.len() {
            self.high.resize(other.high.len(), 0);
        }
        for (w, o) in self.high.iter_mut().zip(&other.high) {
            *w |= o;
        }
    }

    /// The variables in both sets.
    pub fn intersection(&self, other: &VarSet) -> VarSet {
        let mut high: Vec<u64> = self
            .high
            .iter()
            .zip(&other.high)
            .map(|(a, b)| a & b)
            .collect();
        while high.last() == Some(&0) {
            high.pop();
        }
        VarSet {
            low: self.low & other.low,
            high,
        }
    }

    /// Whether the sets share a variable.
    pub fn intersects(&self, other: &VarSet) -> bool {
        (0..self.words().min(other.words())).any(|i| self.word(i) & other.word(i) != 0)
    }

    /// Whether the set has no variable.
    pub fn is_empty(&self) -> bool {
        (0..self.words()).all(|i| self.word(i) == 0)
    }
}

impl PartialEq for VarSet {
    fn eq(&self, other: &VarSet) -> bool {
        (0..self.words().max(other.words())).all(|i| self.word(i) == other.word(i))
    }
}

impl Eq for VarSet {}
