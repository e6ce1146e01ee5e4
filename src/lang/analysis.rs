//! The e-graph analysis of [`Math`]: each e-class's shape, free variables, constant
//! value and the facts (zero, identity, ones, real) the rules' conditions read.

use super::{Fill, FillKind, Func, Math, Number, VarSet};
use crate::lang::dims::Shape;
use egg::{Analysis, DidMerge, EGraph, Id, Language, Symbol};
use std::collections::{BTreeMap, BTreeSet, HashMap};

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
        NCols(_) => Shape::scalar(),
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
        // A known value (a constant, a function name) is kept from whichever side has it.
        fn known<T: Copy>(
            mine: &mut Option<T>,
            theirs: Option<T>,
            changed: (&mut bool, &mut bool),
        ) {
            match (*mine, theirs) {
                (None, Some(_)) => {
                    *mine = theirs;
                    *changed.0 = true;
                }
                (Some(_), None) => *changed.1 = true,
                _ => {}
            }
        }
        known(
            &mut a.constant,
            b.constant,
            (&mut changed_a, &mut changed_b),
        );
        known(&mut a.func, b.func, (&mut changed_a, &mut changed_b));
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
            fill_of_helper(egraph, id)
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

/// The `Fill` leaf a `ones-like`/`eye-like`/`ncols` helper or a `commutation` in this
/// class stands for.
fn fill_of_helper(egraph: &MathEGraph, id: Id) -> Option<Math> {
    egraph[id].nodes.iter().find_map(|n| {
        let fill = match n {
            Math::Commutation([a]) => Fill::commutation(egraph[*a].data.shape.clone()?),
            Math::OnesLike([a]) | Math::EyeLike([a]) | Math::NCols([a]) => {
                Fill::of_helper(n, egraph[*a].data.shape.as_ref()?)?
            }
            _ => return None,
        };
        Some(Math::Fill(fill))
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
    let k = egraph.add(Math::Fill(Fill::commutation(Shape::new(
        sb.cols.clone(),
        sa.rows.clone(),
    ))));
    let i_p = egraph.add(fill(FillKind::Identity, &sb.rows, &sb.rows));
    let left = egraph.add(Math::Kron([i_n, k]));
    let p = egraph.add(Math::Kron([left, i_p]));
    egraph.union(id, p);
}
