//! egg's explanation of an equality, flattened into a chain of terms (the engine's
//! record of a derivation, kept with `--explain`).

use crate::lang::{HashCons, Math};
use egg::{Id, Language};
use std::collections::HashMap;

/// egg's explanation as a chain of terms, each one rewrite away from the one before:
/// the flattening of egg's tree explanation (what `Explanation::make_flat_explanation`
/// computes), over one hash-consed store of nodes, and with shared sub-proofs flattened
/// once, so that a step costs the depth of its rewrite rather than the size of the term.
#[derive(Debug, Clone, Default)]
pub struct Chain {
    /// Every node of every term; children come first.
    pub nodes: Vec<Math>,
    /// The terms in order, from the goal to its best differentiated term; the first has no rewrite.
    pub steps: Vec<ChainStep>,
}

/// One term of a [`Chain`] (an index into [`Chain::nodes`]) and the rewrite that gave it.
#[derive(Debug, Clone)]
pub struct ChainStep {
    /// The root of the term, an index into [`Chain::nodes`].
    pub term: Id,
    /// The rewrite from the previous term to this one (`None` for the first term).
    pub rewrite: Option<Rewrite>,
}

/// A rewrite: the rule (or the reason of a union), its direction, and where it applied.
#[derive(Debug, Clone)]
pub struct Rewrite {
    /// The rule's name, or the reason egg gives for a union made by the analysis.
    pub rule: String,
    /// The previous term rewrites to this one (else this one rewrites to the previous).
    pub forward: bool,
    /// Child indices from the root to the rewritten sub-term.
    pub path: Vec<usize>,
}

/// The chain of an egg explanation.
pub fn chain(explanation: &egg::Explanation<Math>) -> Chain {
    let mut b = ChainBuilder {
        terms: HashCons::default(),
        done: HashMap::new(),
    };
    let steps = b.proof(&explanation.explanation_trees);
    Chain {
        nodes: b.terms.into_expr().as_ref().to_vec(),
        steps,
    }
}

struct ChainBuilder {
    terms: HashCons,
    /// Sub-proofs already flattened (egg shares them).
    done: HashMap<*const egg::TreeTerm<Math>, std::rc::Rc<Vec<ChainStep>>>,
}

impl ChainBuilder {
    fn add(&mut self, node: Math) -> Id {
        self.terms.add(node)
    }

    /// A sequence of proofs of one term, joined: a proof that starts without a rewrite
    /// continues the previous one (its first term is the previous one's last).
    fn proof(&mut self, trees: &[std::rc::Rc<egg::TreeTerm<Math>>]) -> Vec<ChainStep> {
        let mut flat: Vec<ChainStep> = vec![];
        for t in trees {
            let mut steps = (*self.tree(t)).clone();
            if steps[0].rewrite.is_none() {
                if let Some(last) = flat.pop() {
                    steps[0].rewrite = last.rewrite;
                }
            }
            flat.extend(steps);
        }
        flat
    }

    /// One term whose children change one after the other, each by its own proof.
    fn tree(&mut self, t: &std::rc::Rc<egg::TreeTerm<Math>>) -> std::rc::Rc<Vec<ChainStep>> {
        let key = std::rc::Rc::as_ptr(t);
        if let Some(done) = self.done.get(&key) {
            return done.clone();
        }
        let children: Vec<Vec<ChainStep>> = t.child_proofs.iter().map(|p| self.proof(p)).collect();
        let mut reps: Vec<Id> = children.iter().map(|c| c[0].term).collect();
        let build = |reps: &[Id]| {
            let mut k = 0;
            t.node.clone().map_children(|_| {
                k += 1;
                reps[k - 1]
            })
        };
        let first = self.add(build(&reps));
        let own = match (t.forward_rule, t.backward_rule) {
            (Some(r), _) => Some((r, true)),
            (None, Some(r)) => Some((r, false)),
            _ => None,
        };
        let rewrite = own
            .map(|(rule, forward)| Rewrite {
                rule: rule.to_string(),
                forward,
                path: vec![],
            })
            .or_else(|| {
                children
                    .iter()
                    .enumerate()
                    .find_map(|(i, c)| c[0].rewrite.as_ref().map(|r| prefixed(i, r)))
            });
        let mut out = vec![ChainStep {
            term: first,
            rewrite,
        }];
        for (i, c) in children.iter().enumerate() {
            for step in &c[1..] {
                reps[i] = step.term;
                let term = self.add(build(&reps));
                out.push(ChainStep {
                    term,
                    rewrite: step.rewrite.as_ref().map(|r| prefixed(i, r)),
                });
            }
        }
        let out = std::rc::Rc::new(out);
        self.done.insert(key, out.clone());
        out
    }
}

/// A child's rewrite, seen from its parent.
fn prefixed(i: usize, r: &Rewrite) -> Rewrite {
    let mut path = vec![i];
    path.extend(&r.path);
    Rewrite {
        rule: r.rule.clone(),
        forward: r.forward,
        path,
    }
}
