//! Extraction: the cost a result pays (its printed size), and the regrouping of the
//! extracted term so that it prints without needless parentheses.

use crate::lang::dims::Shape;
use crate::lang::{node_shape, subexpr, FillKind, HashCons, Math, MathEGraph};
use egg::{CostFunction, Id, Language, RecExpr, Symbol};
use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap, HashMap, HashSet};

/// The extraction cost: the printed size of a result, in tokens as
/// the public case tools' `textsize.py` counts them ([`crate::render::own_tokens`]), with helper
/// operators infinitely expensive. Ties go to the smaller tree, with decorations
/// (numbers, exponents, transposes) lighter than operations, and then to the Matrix
/// Cookbook's conventions: scalar factors in front of a product, a transposed operand
/// of a sum after the plain one (`A + Aᵀ`).
pub struct ResultCost<'a> {
    egraph: &'a MathEGraph,
}

impl<'a> ResultCost<'a> {
    /// The cost of terms of this e-graph (which the tie-breaks look at).
    pub fn new(egraph: &'a MathEGraph) -> ResultCost<'a> {
        ResultCost { egraph }
    }

    fn is_scalar(&self, id: Id) -> bool {
        self.egraph[id]
            .data
            .shape
            .as_ref()
            .is_some_and(Shape::is_scalar)
    }

    /// A number times something is one of the class's forms.
    fn is_scaled(&self, id: Id) -> bool {
        self.egraph[id]
            .nodes
            .iter()
            .any(|n| matches!(n, Math::Mul([s, _]) if self.egraph[*s].data.constant.is_some()))
    }

    fn is_leaf(&self, id: Id) -> bool {
        self.egraph[id].nodes.iter().any(|n| n.is_leaf())
    }

    fn is_imaginary_unit(&self, id: Id) -> bool {
        self.egraph[id]
            .nodes
            .iter()
            .any(|n| matches!(n, Math::ImagUnit))
    }

    fn is_transpose(&self, id: Id) -> bool {
        self.egraph[id]
            .nodes
            .iter()
            .all(|n| matches!(n, Math::Transpose(_) | Math::Adjoint(_)))
    }
}

impl CostFunction<Math> for ResultCost<'_> {
    type Cost = f64;
    fn cost<C>(&mut self, enode: &Math, mut costs: C) -> f64
    where
        C: FnMut(Id) -> f64,
    {
        if enode.is_helper() {
            return f64::INFINITY;
        }
        let size = match enode {
            // Decorations weigh less than operations: numbers, exponents, transposes.
            Math::Num(_) | Math::Pow(_) => 0.5,
            Math::Transpose(_) => 0.9,
            Math::Neg(_) => 1.1,
            // A zero matrix prints as a product, `0 X`.
            Math::Fill(f) if f.kind == FillKind::Zeros && !f.shape.is_scalar() => 1.5,
            _ => 1.0,
        };
        let convention = match enode {
            // `A s` → `s A`
            Math::Mul([a, b]) if self.is_scalar(*b) && !self.is_scalar(*a) => 1.0,
            // `Aᵀ + A` → `A + Aᵀ`
            Math::Add([a, b]) if self.is_transpose(*a) && !self.is_transpose(*b) => 1.0,
            // `a ∘ 2 b` → `2 (a ∘ b)`: numbers in front
            Math::Hadamard([a, b]) if self.is_scaled(*a) || self.is_scaled(*b) => 1.0,
            // `(-y) ∘ x` → `-(y ∘ x)`: signs outside, so that `y ∘ x` may be shared
            Math::Neg([a]) if self.is_leaf(*a) && !self.is_imaginary_unit(*a) => 1.0,
            // `ⅈᴴ`, `conj(ⅈ)` → `-ⅈ`
            Math::Adjoint([a]) | Math::Conj([a]) if self.is_imaginary_unit(*a) => 1.0,
            _ => 0.0,
        };
        let own = crate::render::own_tokens(enode) as f64 + 0.01 * size + 0.001 * convention;
        enode.fold(own, |sum, id| sum + costs(id))
    }
}

/// The cheapest term of every e-class under a cost function: egg's `Extractor` without
/// its cost on deep terms. egg sweeps every class, in the e-graph's class order, until a
/// sweep changes nothing (one sweep per level of a deep term, so quadratic time); this
/// replays exactly those sweeps but visits only the classes a changed child can change
/// (a class whose children kept their costs would compute the same cost again), so it
/// picks the same e-node in every class, ties included, in time about linear in the
/// e-graph.
pub struct Best<'a> {
    egraph: &'a MathEGraph,
    best: HashMap<Id, (f64, Math)>,
}

impl<'a> Best<'a> {
    /// The cheapest term of every class of `egraph` under `cost`.
    pub fn new<CF: CostFunction<Math, Cost = f64>>(
        egraph: &'a MathEGraph,
        mut cost: CF,
    ) -> Best<'a> {
        let order: Vec<Id> = egraph.classes().map(|c| c.id).collect();
        let position: HashMap<Id, usize> = order.iter().enumerate().map(|(i, &c)| (c, i)).collect();
        let mut parents: Vec<Vec<usize>> = vec![vec![]; order.len()];
        for (i, &class) in order.iter().enumerate() {
            for node in &egraph[class].nodes {
                for &child in node.children() {
                    let p = &mut parents[position[&egraph.find(child)]];
                    if p.last() != Some(&i) {
                        p.push(i);
                    }
                }
            }
        }
        let mut best: HashMap<Id, (f64, Math)> = HashMap::new();
        // The classes to visit in this sweep (in class order) and in the next one.
        let mut now: BinaryHeap<Reverse<usize>> = (0..order.len()).map(Reverse).collect();
        let mut queued_now = vec![true; order.len()];
        let mut next: Vec<usize> = vec![];
        let mut queued_next = vec![false; order.len()];
        loop {
            while let Some(Reverse(i)) = now.pop() {
                queued_now[i] = false;
                let class = order[i];
                // egg's pass over one class: its cheapest node whose children all have a
                // cost (the first of equal ones), kept if the class had none or it is cheaper.
                let mut found: Option<(f64, &Math)> = None;
                for node in &egraph[class].nodes {
                    let ready = node.all(|c| best.contains_key(&egraph.find(c)));
                    if !ready {
                        continue;
                    }
                    let c = cost.cost(node, |c| best[&egraph.find(c)].0);
                    if found.is_none_or(|(f, _)| c < f) {
                        found = Some((c, node));
                    }
                }
                let Some((c, node)) = found else { continue };
                if best.get(&class).is_some_and(|(old, _)| c >= *old) {
                    continue;
                }
                best.insert(class, (c, node.clone()));
                for &p in &parents[i] {
                    if p > i {
                        if !queued_now[p] {
                            queued_now[p] = true;
                            now.push(Reverse(p));
                        }
                    } else if !queued_next[p] {
                        queued_next[p] = true;
                        next.push(p);
                    }
                }
            }
            if next.is_empty() {
                break;
            }
            for p in next.drain(..) {
                queued_next[p] = false;
                queued_now[p] = true;
                now.push(Reverse(p));
            }
        }
        Best { egraph, best }
    }

    /// The cost of the cheapest term of `class` (infinite where it has none).
    pub fn find_best_cost(&self, class: Id) -> f64 {
        self.best
            .get(&self.egraph.find(class))
            .map_or(f64::INFINITY, |(c, _)| *c)
    }

    /// The cheapest e-node of `class`.
    pub fn find_best_node(&self, class: Id) -> &Math {
        &self.best[&self.egraph.find(class)].1
    }

    /// The cheapest term of `class`, with its cost.
    pub fn find_best(&self, class: Id) -> (f64, RecExpr<Math>) {
        let (c, root) = &self.best[&self.egraph.find(class)];
        (*c, root.build_recexpr(|id| self.find_best_node(id).clone()))
    }

    /// The cheapest terms of `classes`, built together: a class several of them reach
    /// (a shared backward chain, the user's bindings) is built once, so extracting N
    /// results costs the size of their union, not the sum of their sizes.
    pub fn find_best_all(&self, classes: &[Id]) -> Extracted {
        self.try_find_best_all(classes, None)
            .expect("the cheapest nodes of a positive cost form no cycle")
    }

    /// [`Best::find_best_all`] with the terms of some classes given (`frozen`: an
    /// expression and the node of it each such class takes), or `None` where the
    /// cheapest nodes form a cycle.
    pub fn try_find_best_all(
        &self,
        classes: &[Id],
        frozen: Option<(&RecExpr<Math>, &HashMap<Id, Id>)>,
    ) -> Option<Extracted> {
        let mut built = HashCons::default();
        let base = frozen.map_or(vec![], |(expr, _)| built.intern_all(expr));
        let mut ids: HashMap<Id, Id> = HashMap::new();
        let mut roots = Vec::with_capacity(classes.len());
        // Classes whose children are being built: on the path from a root.
        let mut open: HashSet<Id> = HashSet::new();
        for &class in classes {
            let mut todo = vec![self.egraph.find(class)];
            while let Some(&next) = todo.last() {
                if ids.contains_key(&next) {
                    todo.pop();
                    continue;
                }
                if let Some(&node) = frozen.and_then(|(_, at)| at.get(&next)) {
                    ids.insert(next, base[usize::from(node)]);
                    todo.pop();
                    continue;
                }
                let node = self.find_best_node(next);
                let waiting: Vec<Id> = node
                    .children()
                    .iter()
                    .map(|&c| self.egraph.find(c))
                    .filter(|c| !ids.contains_key(c))
                    .collect();
                if waiting.iter().any(|c| open.contains(c)) {
                    return None;
                }
                if waiting.is_empty() {
                    open.remove(&next);
                    let node = node.clone().map_children(|c| ids[&self.egraph.find(c)]);
                    ids.insert(next, built.add(node));
                    todo.pop();
                } else {
                    open.insert(next);
                    todo.extend(waiting);
                }
            }
            roots.push(ids[&self.egraph.find(class)]);
        }
        let mut classes = vec![None; built.nodes().len()];
        for (&class, &node) in &ids {
            classes[usize::from(node)] = Some(class);
        }
        Some(Extracted {
            expr: built.into_expr(),
            roots,
            classes,
        })
    }
}

/// [`ResultCost`] with some classes named: each use of a named class costs one token,
/// the name (its definition is paid once, by the comparison in [`Extracted::with_names`]).
pub struct NamedCost<'a> {
    inner: ResultCost<'a>,
    egraph: &'a MathEGraph,
    named: HashSet<Id>,
}

impl CostFunction<Math> for NamedCost<'_> {
    type Cost = f64;
    fn cost<C>(&mut self, enode: &Math, mut costs: C) -> f64
    where
        C: FnMut(Id) -> f64,
    {
        let (egraph, named) = (self.egraph, &self.named);
        self.inner.cost(enode, |c| {
            if named.contains(&egraph.find(c)) {
                1.0
            } else {
                costs(c)
            }
        })
    }
}

/// Several extracted results as one expression with shared nodes, and each result's
/// root in it.
#[derive(Debug, Clone, Default)]
pub struct Extracted {
    expr: RecExpr<Math>,
    roots: Vec<Id>,
    /// The e-class of each node of `expr`, where known.
    classes: Vec<Option<Id>>,
}

impl Extracted {
    /// The classes the results use at least twice (counted in their trees, as the
    /// printer would repeat them unnamed) whose terms are long enough that a name pays at three
    /// uses (3 or more tokens: `t = softmax(K q)`, not `t = V c`).
    fn repeated_classes(&self) -> HashSet<Id> {
        let nodes = self.expr.as_ref();
        let mut tokens = vec![0usize; nodes.len()];
        for (i, node) in nodes.iter().enumerate() {
            tokens[i] = node
                .children()
                .iter()
                .fold(crate::render::own_tokens(node), |a, c| {
                    a.saturating_add(tokens[usize::from(*c)])
                });
        }
        // Uses in the trees of all results at once (one pass, however many results).
        let mut count = vec![0usize; nodes.len()];
        for &root in &self.roots {
            count[usize::from(root)] += 1;
        }
        let mut out = HashSet::new();
        for i in (0..nodes.len()).rev() {
            if count[i] == 0 {
                continue;
            }
            if count[i] >= 2 && tokens[i] >= 3 {
                if let Some(&Some(class)) = self.classes.get(i) {
                    out.insert(class);
                }
            }
            for c in nodes[i].children() {
                count[usize::from(*c)] = count[usize::from(*c)].saturating_add(count[i]);
            }
        }
        out
    }

    /// The results extracted again with every repeated sub-term named (so a form that
    /// uses a named term three times may beat one that repeats it twice): each result
    /// takes the new term where its printed size, names and where-lines included, is
    /// smaller. `softmax(K q) ∘ (V c - (V c)ᵀ softmax(K q))` becomes
    /// `(diag(p) - p pᵀ) V c` with `p = softmax(K q)`.
    pub fn with_names(self, egraph: &MathEGraph, goals: &[Id]) -> Extracted {
        let named = self.repeated_classes();
        if named.is_empty() {
            return self;
        }
        // A named class keeps its term: only its uses are priced anew (so no class's
        // new term can go through itself).
        let frozen: HashMap<Id, Id> = self
            .classes
            .iter()
            .enumerate()
            .filter_map(|(i, c)| {
                let c = (*c)?;
                named.contains(&c).then_some((c, Id::from(i)))
            })
            .collect();
        let Some(other) = Best::new(
            egraph,
            NamedCost {
                inner: ResultCost::new(egraph),
                egraph,
                named,
            },
        )
        .try_find_best_all(goals, Some((&self.expr, &frozen))) else {
            return self;
        };
        let size = |e: &Extracted, k: usize| {
            let term = e.term(k);
            crate::render::printed_size(&term, &crate::render::share(&term, &Default::default()))
        };
        let mut built = HashCons::default();
        let mine = built.intern_all(&self.expr);
        let theirs = built.intern_all(&other.expr);
        // Only a result whose term changed is measured.
        let roots: Vec<Id> = (0..self.roots.len())
            .map(|k| {
                let (a, b) = (
                    mine[usize::from(self.roots[k])],
                    theirs[usize::from(other.roots[k])],
                );
                if a != b && size(&other, k) < size(&self, k) {
                    b
                } else {
                    a
                }
            })
            .collect();
        let expr = built.into_expr();
        let classes = vec![None; expr.as_ref().len()];
        Extracted {
            expr,
            roots,
            classes,
        }
    }

    /// The `k`-th result as an expression of its own.
    pub fn term(&self, k: usize) -> RecExpr<Math> {
        subexpr(&self.expr, self.roots[k])
    }

    /// The `k`-th result, if there is one.
    pub fn get(&self, k: usize) -> Option<RecExpr<Math>> {
        (k < self.roots.len()).then(|| self.term(k))
    }

    /// Every result regrouped by [`left_associate`], the shared nodes regrouped once.
    pub fn left_associated(&self, var_shapes: &BTreeMap<Symbol, Shape>) -> Vec<RecExpr<Math>> {
        let (out, map) = regroup(&self.expr, var_shapes);
        self.roots
            .iter()
            .map(|&root| subexpr(&out, map[usize::from(root)]))
            .collect()
    }
}

/// Products, Hadamard products and sums chained to the left, `A (B C)` → `A B C`,
/// numbers moved out of transposes (`(2 X)ᵀ` → `2 Xᵀ`),
/// `a ∘ (b ∘ c)` → `a ∘ b ∘ c` and `a + (b - c)` → `a + b - c`, as they are read and
/// printed without parentheses. Products are only
/// regrouped where all three factors are proper matrices (not scalings).
pub fn left_associate(expr: &RecExpr<Math>, var_shapes: &BTreeMap<Symbol, Shape>) -> RecExpr<Math> {
    let (out, map) = regroup(expr, var_shapes);
    match map.last() {
        Some(&root) => subexpr(&out, root),
        None => out,
    }
}

/// Every node of `expr` regrouped as [`left_associate`] says, and where each went.
fn regroup(expr: &RecExpr<Math>, var_shapes: &BTreeMap<Symbol, Shape>) -> (RecExpr<Math>, Vec<Id>) {
    let mut b = Regrouper {
        nodes: Vec::with_capacity(expr.as_ref().len()),
        shapes: vec![],
        var_shapes,
    };
    let mut map: Vec<Id> = Vec::with_capacity(expr.as_ref().len());
    for node in expr.as_ref() {
        let id = match node.clone().map_children(|c| map[usize::from(c)]) {
            Math::Mul([x, y]) => b.product(x, y),
            Math::Hadamard([x, y]) => b.hadamard(x, y),
            Math::Add([x, y]) => b.sum(false, x, y),
            Math::Sub([x, y]) => b.sum(true, x, y),
            Math::Transpose([x]) => b.transpose(x),
            other => b.push(other),
        };
        map.push(id);
    }
    (RecExpr::from(b.nodes), map)
}

/// Builds the regrouped expression node by node, tracking shapes.
struct Regrouper<'a> {
    nodes: Vec<Math>,
    shapes: Vec<Option<Shape>>,
    var_shapes: &'a BTreeMap<Symbol, Shape>,
}

impl Regrouper<'_> {
    fn push(&mut self, node: Math) -> Id {
        let shape = node_shape(&node, &|c| self.shapes[usize::from(c)].clone(), &|v| {
            self.var_shapes.get(&v).cloned()
        })
        .ok()
        .flatten();
        self.nodes.push(node);
        self.shapes.push(shape);
        Id::from(self.nodes.len() - 1)
    }

    fn is_matrix(&self, id: Id) -> bool {
        self.shapes[usize::from(id)]
            .as_ref()
            .is_some_and(|s| !s.is_scalar())
    }

    /// `x (y z)` → `(x y) z`, recursively, with numbers first among scalar factors.
    fn product(&mut self, x: Id, yz: Id) -> Id {
        let scalar = |b: &Self, id: Id| !b.is_matrix(id);
        let number = |b: &Self, id: Id| matches!(b.nodes[usize::from(id)], Math::Num(_));
        let x_node = self.nodes[usize::from(x)].clone();
        match (self.nodes[usize::from(yz)].clone(), x_node) {
            // A (s B) = s (A B): scalar factors go to the front.
            (Math::Mul([y, z]), _) if self.is_matrix(x) && scalar(self, y) && self.is_matrix(z) => {
                let xz = self.product(x, z);
                self.product(y, xz)
            }
            (Math::Mul([y, z]), _)
                if scalar(self, x)
                    || (self.is_matrix(x) && self.is_matrix(y) && self.is_matrix(z)) =>
            {
                let xy = self.product(x, y);
                self.product(xy, z)
            }
            // Two numbers multiply out: `3 (2 α)` → `6 α`.
            (Math::Num(b), Math::Num(a)) => {
                self.push(Math::Num(crate::lang::Number::new(a.value() * b.value())))
            }
            _ if scalar(self, x) && scalar(self, yz) && number(self, yz) && !number(self, x) => {
                self.push(Math::Mul([yz, x]))
            }
            _ => self.push(Math::Mul([x, yz])),
        }
    }

    /// `(c A)ᵀ` → `c Aᵀ` for a number c, so that the number may go to the front of the
    /// product around it (`(W X - Y) (2 X)ᵀ` → `2 (W X - Y) Xᵀ`).
    fn transpose(&mut self, x: Id) -> Id {
        match self.nodes[usize::from(x)] {
            Math::Mul([c, a])
                if matches!(self.nodes[usize::from(c)], Math::Num(_)) && self.is_matrix(a) =>
            {
                let at = self.push(Math::Transpose([a]));
                self.product(c, at)
            }
            _ => self.push(Math::Transpose([x])),
        }
    }

    /// `x ∘ (y ∘ z)` → `(x ∘ y) ∘ z`, recursively (read and printed `x ∘ y ∘ z`).
    fn hadamard(&mut self, x: Id, yz: Id) -> Id {
        match self.nodes[usize::from(yz)] {
            Math::Hadamard([y, z]) => {
                let xy = self.hadamard(x, y);
                self.hadamard(xy, z)
            }
            _ => self.push(Math::Hadamard([x, yz])),
        }
    }

    /// `x ± (y ± z)` → `(x ± y) ± z` with the signs worked out, recursively.
    fn sum(&mut self, subtract: bool, x: Id, yz: Id) -> Id {
        let (inner_sub, y, z) = match self.nodes[usize::from(yz)] {
            Math::Add([y, z]) => (false, y, z),
            Math::Sub([y, z]) => (true, y, z),
            _ => {
                let node = if subtract {
                    Math::Sub([x, yz])
                } else {
                    Math::Add([x, yz])
                };
                return self.push(node);
            }
        };
        let xy = self.sum(subtract, x, y);
        // x - (y - z) = (x - y) + z; x - (y + z) = (x - y) - z; x + (y ∓ z) = (x + y) ∓ z
        let node = if subtract != inner_sub {
            Math::Sub([xy, z])
        } else {
            Math::Add([xy, z])
        };
        self.push(node)
    }
}
