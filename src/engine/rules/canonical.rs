//! Canonical forms (issue 9): the shortest correct form a careful author writes.
//! `PRE` runs with differentiation and rewrites the function itself into forms whose
//! derivatives are short (`‖e‖² = eᵀe`, standard functions recognised); `RULES` runs
//! with simplification (trivial powers, diag algebra, Hadamard cancellation, standard
//! functions recognised in results).
//!
//! The cancellations `s ∘ (y ⊘ s) = y` and `(a ∘ b) ⊘ b = a` hold where the divisor has
//! no zero entry, as `s (A / s) = A` in `algebra.rs` does for a scalar s: the divisor
//! already stands in a denominator of the expression that is simplified.

use super::{rule, rule_if, Cond::*, Rule};

/// Rewrites of the function before (and while) it is differentiated.
#[rustfmt::skip]
pub const PRE: &[Rule] = &[
    // ‖A‖² = sum(A ∘ A) for a real A (eᵀe for a column, Frobenius for a matrix)
    rule_if("norm-squared",      "(pow (norm ?a) 2)", "(sum (∘ ?a ?a))", &[Real("?a")]),
    // log(softmax(a)) = a - logsumexp(a) (entry-wise, for a real a)
    rule_if("log-softmax",       "(ew @log (softmax ?a))", "(- ?a (logsumexp ?a))", &[Real("?a")]),
];

/// Canonical forms of results.
#[rustfmt::skip]
pub const RULES: &[Rule] = &[
    // (1 / s)^k A = A / s^k for a 1×1 s
    rule_if("reciprocal-power-scaling", "(* (pow (/ 1 ?s) ?k) ?a)", "(/ ?a (pow ?s ?k))", &[Scalar("?s"), Constant("?k")]),
    // (1 / s) ones = ones / s for a 1×1 s (the gradient of a mean: ones / n)
    rule_if("reciprocal-scaling-ones", "(* (/ 1 ?s) ?o)", "(/ ?o ?s)", &[Scalar("?s"), Ones("?o")]),
    // A.^1 = A
    rule("epow-one",             "(epow ?a 1)", "?a"),
    // A.^0 = ones
    rule("epow-zero",            "(epow ?a 0)", "(ones-like ?a)"),
    // vec(ones) = ones
    rule_if("vec-ones",          "(vec ?o)", "(ones-like (vec ?o))", &[Ones("?o")]),
    // vec(A) ∘ vec(B) = vec(A ∘ B)
    rule_if("hadamard-of-vecs",  "(∘ (vec ?a) (vec ?b))", "(vec (∘ ?a ?b))", &[SameShape("?a", "?b")]),
    // diag(a) (diag(b) C) = diag(a ∘ b) C for columns a, b
    rule_if("diag-product-assoc", "(* (diag ?a) (* (diag ?b) ?c))", "(* (diag (∘ ?a ?b)) ?c)", &[Column("?a"), SameShape("?a", "?b")]),
    // (C diag(a)) diag(b) = C diag(a ∘ b) for columns a, b
    rule_if("diag-product-assoc-right", "(* (* ?c (diag ?a)) (diag ?b))", "(* ?c (diag (∘ ?a ?b)))", &[Column("?a"), SameShape("?a", "?b")]),
    // diag(s a) = s diag(a) for a 1×1 s
    rule_if("diag-scaled",        "(diag (* ?s ?a))", "(* ?s (diag ?a))", &[Scalar("?s"), NotScalar("?a")]),
    // diag(s ones) = s I for a 1×1 s
    rule_if("diag-scaled-ones",  "(diag (* ?s ?o))", "(* ?s (eye-like ?o))", &[Scalar("?s"), Ones("?o"), Column("?o")]),
    // diag(a ∘ b) = diag(b ∘ a): one order for both sides of a sandwich diag(a) X diag(b)
    rule("diag-hadamard-commute", "(diag (∘ ?a ?b))", "(diag (∘ ?b ?a))"),
    // Aᵀ + A = A + Aᵀ (the Matrix Cookbook's order)
    rule("transpose-plus-self",  "(+ (T ?a) ?a)", "(+ ?a (T ?a))"),
    // A / s - B / s² = (A - B / s) / s for a 1×1 s
    rule_if("common-denominator", "(- (/ ?a ?s) (/ ?b (pow ?s 2)))", "(/ (- ?a (/ ?b ?s)) ?s)", &[Scalar("?s")]),
    // A / s + B / s² = (A + B / s) / s for a 1×1 s
    rule_if("common-denominator-sum", "(+ (/ ?a ?s) (/ ?b (pow ?s 2)))", "(/ (+ ?a (/ ?b ?s)) ?s)", &[Scalar("?s")]),
    // sum(A ones) = k sum(A) for a ones with k > 1 columns (a bare `ones` reads as a column)
    rule_if("sum-times-wide-ones", "(sum (* ?a ?o))", "(* (ncols ?o) (sum ?a))", &[Ones("?o"), Wide("?o"), MatMul("?a", "?o")]),
    // sum(onesᵀ A) = k sum(A) for a ones with k > 1 columns
    rule_if("sum-wide-ones-times", "(sum (* (T ?o) ?a))", "(* (ncols ?o) (sum ?a))", &[Ones("?o"), Wide("?o"), SameRows("?o", "?a")]),
    // onesᵀ a = sum(a) for a column a
    rule_if("ones-dot",          "(* (T ?o) ?a)", "(sum ?a)", &[Ones("?o"), Column("?o"), Column("?a"), SameShape("?o", "?a")]),
    // (onesᵀ A) ones = sum(A) for columns of ones
    rule_if("ones-sandwich",     "(* (* (T ?o) ?a) ?p)", "(sum ?a)", &[Ones("?o"), Ones("?p"), Column("?o"), Column("?p"), SameRows("?o", "?a"), MatMul("?a", "?p")]),
    // onesᵀ (A ones) = sum(A) for columns of ones
    rule_if("ones-sandwich-right", "(* (T ?o) (* ?a ?p))", "(sum ?a)", &[Ones("?o"), Ones("?p"), Column("?o"), Column("?p"), SameRows("?o", "?a"), MatMul("?a", "?p")]),
    // sum(-A) = -sum(A)
    rule("sum-neg",              "(sum (neg ?a))", "(neg (sum ?a))"),
    // diag(-a) = -diag(a)
    rule("diag-neg",             "(diag (neg ?a))", "(neg (diag ?a))"),
    // s ∘ (y ⊘ s) = y (s without zero entries)
    rule_if("hadamard-cancel-quotient", "(∘ ?s (⊘ ?y ?s))", "?y", &[SameShape("?s", "?y")]),
    // (y ⊘ s) ∘ s = y (s without zero entries)
    rule_if("hadamard-cancel-quotient-right", "(∘ (⊘ ?y ?s) ?s)", "?y", &[SameShape("?s", "?y")]),
    // (a ∘ b) ⊘ b = a (b without zero entries)
    rule_if("quotient-cancel-hadamard", "(⊘ (∘ ?a ?b) ?b)", "?a", &[SameShape("?a", "?b")]),
    // (b ∘ a) ⊘ b = a (b without zero entries)
    rule_if("quotient-cancel-hadamard-left", "(⊘ (∘ ?b ?a) ?b)", "?a", &[SameShape("?a", "?b")]),
    // (ones ⊘ d) ∘ a = a ⊘ d
    rule_if("reciprocal-times",  "(∘ (⊘ ?o ?d) ?a)", "(⊘ ?a ?d)", &[Ones("?o"), SameShape("?a", "?d"), SameShape("?o", "?a")]),
    // a ∘ (ones ⊘ d) = a ⊘ d
    rule_if("times-reciprocal",  "(∘ ?a (⊘ ?o ?d))", "(⊘ ?a ?d)", &[Ones("?o"), SameShape("?a", "?d"), SameShape("?o", "?a")]),
    // (1 ⊘ d) ∘ a = a ⊘ d
    rule_if("reciprocal-one-times", "(∘ (⊘ 1 ?d) ?a)", "(⊘ ?a ?d)", &[SameShape("?a", "?d")]),
    // a ∘ (1 ⊘ d) = a ⊘ d
    rule_if("times-reciprocal-one", "(∘ ?a (⊘ 1 ?d))", "(⊘ ?a ?d)", &[SameShape("?a", "?d")]),
    // s ∘ (v - vᵀ s) = (diag(s) - s sᵀ) v for columns s, v (the softmax Jacobian's form)
    rule_if("hadamard-centred-as-jacobian", "(∘ ?s (- ?v (* (T ?v) ?s)))", "(* (- (diag ?s) (* ?s (T ?s))) ?v)", &[Column("?s"), SameShape("?s", "?v")]),
    // 1 - sigmoid(z) = sigmoid(-z)
    rule("sigmoid-complement",   "(- 1 (ew @sigmoid ?z))", "(ew @sigmoid (neg ?z))"),
];

/// Standard functions recognised in their expansions, in functions and in results.
#[rustfmt::skip]
pub const RECOGNISE: &[Rule] = &[
    // ones ⊘ (1 + exp(-z)) = sigmoid(z)
    rule_if("recognise-sigmoid", "(⊘ ?o (+ 1 (ew @exp (neg ?z))))", "(ew @sigmoid ?z)", &[Ones("?o"), SameShape("?o", "?z")]),
    // 1 ⊘ (1 + exp(-z)) = sigmoid(z)
    rule("recognise-sigmoid-one", "(⊘ 1 (+ 1 (ew @exp (neg ?z))))", "(ew @sigmoid ?z)"),
    // 1 / (1 + exp(-z)) = sigmoid(z) for a 1×1 z
    rule("recognise-sigmoid-scalar", "(/ 1 (+ 1 (ew @exp (neg ?z))))", "(ew @sigmoid ?z)"),
    // exp(z) ⊘ (1 + exp(z)) = sigmoid(z)
    rule("recognise-sigmoid-exp", "(⊘ (ew @exp ?z) (+ 1 (ew @exp ?z)))", "(ew @sigmoid ?z)"),
    // exp(z) / (1 + exp(z)) = sigmoid(z) for a 1×1 z
    rule("recognise-sigmoid-exp-scalar", "(/ (ew @exp ?z) (+ 1 (ew @exp ?z)))", "(ew @sigmoid ?z)"),
    // log(1 + exp(a)) = softplus(a)
    rule("recognise-softplus", "(ew @log (+ 1 (ew @exp ?a)))", "(ew @softplus ?a)"),
    // log(exp(a) + 1) = softplus(a)
    rule("recognise-softplus-right", "(ew @log (+ (ew @exp ?a) 1))", "(ew @softplus ?a)"),
    // log(sum(exp(a))) = logsumexp(a)
    rule("recognise-logsumexp", "(ew @log (sum (ew @exp ?a)))", "(logsumexp ?a)"),
    // exp(a) / sum(exp(a)) = softmax(a)
    rule("recognise-softmax",    "(/ (ew @exp ?a) (sum (ew @exp ?a)))", "(softmax ?a)"),
];
