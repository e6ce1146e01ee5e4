//! Neutral and absorbing elements: zeros, ones and identity matrices. These also run
//! during differentiation, which leaves many zeros behind.

use super::{rule, rule_if, Cond::*, Rule};

#[rustfmt::skip]
pub const RULES: &[Rule] = &[
    // A + 0 = A
    rule_if("add-zero-right",   "(+ ?a ?z)", "?a", &[Zero("?z"), FitsIn("?z", "?a")]),
    // 0 + A = A
    rule_if("add-zero-left",    "(+ ?z ?a)", "?a", &[Zero("?z"), FitsIn("?z", "?a")]),
    // A - 0 = A
    rule_if("sub-zero-right",   "(- ?a ?z)", "?a", &[Zero("?z"), FitsIn("?z", "?a")]),
    // 0 - A = -A
    rule_if("sub-zero-left",    "(- ?z ?a)", "(neg ?a)", &[Zero("?z"), FitsIn("?z", "?a")]),
    // A - A = 0
    rule("sub-self",            "(- ?a ?a)", "(zeros-like ?a)"),
    // A ⊘ A = 𝟏 (entries where A is zero are outside the domain of A ⊘ A)
    rule("elementwise-quotient-self", "(⊘ ?a ?a)", "(ones-like ?a)"),
    // Z + s = s 𝟏 for a zero matrix Z and a 1×1 s (s added to every entry)
    rule_if("add-scalar-to-zero-right", "(+ ?z ?s)", "(* ?s (ones-like ?z))", &[Zero("?z"), NotScalar("?z"), Scalar("?s")]),
    // s + Z = s 𝟏 for a zero matrix Z and a 1×1 s
    rule_if("add-scalar-to-zero-left", "(+ ?s ?z)", "(* ?s (ones-like ?z))", &[Zero("?z"), NotScalar("?z"), Scalar("?s")]),
    // Z - s = -(s 𝟏) for a zero matrix Z and a 1×1 s
    rule_if("sub-scalar-from-zero", "(- ?z ?s)", "(neg (* ?s (ones-like ?z)))", &[Zero("?z"), NotScalar("?z"), Scalar("?s")]),
    // s - Z = s 𝟏 for a zero matrix Z and a 1×1 s
    rule_if("sub-zero-from-scalar", "(- ?s ?z)", "(* ?s (ones-like ?z))", &[Zero("?z"), NotScalar("?z"), Scalar("?s")]),
    // -0 = 0
    rule_if("neg-zero",         "(neg ?z)", "?z", &[Zero("?z")]),
    // 0 B = 0
    rule_if("mul-zero-left",    "(* ?z ?b)", "(zeros-like (* ?z ?b))", &[Zero("?z")]),
    // A 0 = 0
    rule_if("mul-zero-right",   "(* ?a ?z)", "(zeros-like (* ?a ?z))", &[Zero("?z")]),
    // 0 ∘ B = 0
    rule_if("hadamard-zero-left", "(∘ ?z ?b)", "(zeros-like (∘ ?z ?b))", &[Zero("?z")]),
    // A ∘ 0 = 0
    rule_if("hadamard-zero-right", "(∘ ?a ?z)", "(zeros-like (∘ ?a ?z))", &[Zero("?z")]),
    // 0 ⊗ B = 0
    rule_if("kron-zero-left",   "(⊗ ?z ?b)", "(zeros-like (⊗ ?z ?b))", &[Zero("?z")]),
    // A ⊗ 0 = 0
    rule_if("kron-zero-right",  "(⊗ ?a ?z)", "(zeros-like (⊗ ?a ?z))", &[Zero("?z")]),
    // 0 ⊘ B = 0
    rule_if("elementwise-quotient-zero", "(⊘ ?z ?b)", "(zeros-like (⊘ ?z ?b))", &[Zero("?z")]),
    // 0 / s = 0
    rule_if("quotient-zero",    "(/ ?z ?s)", "?z", &[Zero("?z")]),
    // 0ᵀ = 0
    rule_if("transpose-zero",   "(T ?z)", "(zeros-like (T ?z))", &[Zero("?z")]),
    // tr(0) = 0
    rule_if("trace-zero",       "(tr ?z)", "0", &[Zero("?z")]),
    // sum(0) = 0
    rule_if("sum-zero",         "(sum ?z)", "0", &[Zero("?z")]),
    // diag(0) = 0
    rule_if("diag-zero",        "(diag ?z)", "(zeros-like (diag ?z))", &[Zero("?z")]),
    // 1 A = A
    rule("mul-one-left",        "(* 1 ?a)", "?a"),
    // A 1 = A
    rule("mul-one-right",       "(* ?a 1)", "?a"),
    // A / 1 = A
    rule("quotient-one",        "(/ ?a 1)", "?a"),
    // ones ∘ A = A
    rule_if("hadamard-ones-left", "(∘ ?o ?a)", "?a", &[Ones("?o"), SameShape("?o", "?a")]),
    // A ∘ ones = A
    rule_if("hadamard-ones-right", "(∘ ?a ?o)", "?a", &[Ones("?o"), SameShape("?o", "?a")]),
    // I A = A
    rule_if("identity-left",    "(* ?i ?a)", "?a", &[Identity("?i"), MatMul("?i", "?a")]),
    // A I = A
    rule_if("identity-right",   "(* ?a ?i)", "?a", &[Identity("?i"), MatMul("?a", "?i")]),
];
