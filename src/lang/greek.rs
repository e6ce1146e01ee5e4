//! The one table of Greek letters: each letter's ASCII spelling (read in programs and
//! `--wrt`, written in NumPy names and function pools) and its LaTeX form.

/// A Greek letter, its ASCII spelling (`None` for variant forms, which have no spelling
/// of their own) and its LaTeX form. Capitals that look like Latin ones are upright Latin
/// letters in LaTeX (as `\Gamma` is upright), so that `Α` is not taken for the variable `A`.
#[derive(Debug, Clone, Copy)]
pub struct Greek {
    /// The letter: `σ`.
    pub letter: char,
    /// Its ASCII spelling: `sigma`.
    pub ascii: Option<&'static str>,
    /// Its LaTeX form: `\sigma`.
    pub latex: &'static str,
}

const fn g(letter: char, ascii: &'static str, latex: &'static str) -> Greek {
    Greek {
        letter,
        ascii: Some(ascii),
        latex,
    }
}

const fn variant(letter: char, latex: &'static str) -> Greek {
    Greek {
        letter,
        ascii: None,
        latex,
    }
}

/// Every Greek letter the grammar accepts (α–ω, Α–Ω, ς and the variants ϑ ϕ ϖ ϱ ϵ).
#[rustfmt::skip]
pub const GREEK: &[Greek] = &[
    g('α', "alpha", r"\alpha"), g('β', "beta", r"\beta"), g('γ', "gamma", r"\gamma"),
    g('δ', "delta", r"\delta"), g('ε', "epsilon", r"\varepsilon"), g('ζ', "zeta", r"\zeta"),
    g('η', "eta", r"\eta"), g('θ', "theta", r"\theta"), g('ι', "iota", r"\iota"),
    g('κ', "kappa", r"\kappa"), g('λ', "lambda", r"\lambda"), g('μ', "mu", r"\mu"),
    g('ν', "nu", r"\nu"), g('ξ', "xi", r"\xi"), g('ο', "omicron", "o"), g('π', "pi", r"\pi"),
    g('ρ', "rho", r"\rho"), g('σ', "sigma", r"\sigma"), variant('ς', r"\varsigma"),
    g('τ', "tau", r"\tau"), g('υ', "upsilon", r"\upsilon"), g('φ', "phi", r"\varphi"),
    g('χ', "chi", r"\chi"), g('ψ', "psi", r"\psi"), g('ω', "omega", r"\omega"),
    variant('ϑ', r"\vartheta"), variant('ϕ', r"\phi"), variant('ϖ', r"\varpi"),
    variant('ϱ', r"\varrho"), variant('ϵ', r"\epsilon"),
    g('Α', "Alpha", r"\mathrm{A}"), g('Β', "Beta", r"\mathrm{B}"), g('Γ', "Gamma", r"\Gamma"),
    g('Δ', "Delta", r"\Delta"), g('Ε', "Epsilon", r"\mathrm{E}"), g('Ζ', "Zeta", r"\mathrm{Z}"),
    g('Η', "Eta", r"\mathrm{H}"), g('Θ', "Theta", r"\Theta"), g('Ι', "Iota", r"\mathrm{I}"),
    g('Κ', "Kappa", r"\mathrm{K}"), g('Λ', "Lambda", r"\Lambda"), g('Μ', "Mu", r"\mathrm{M}"),
    g('Ν', "Nu", r"\mathrm{N}"), g('Ξ', "Xi", r"\Xi"), g('Ο', "Omicron", r"\mathrm{O}"),
    g('Π', "Pi", r"\Pi"), g('Ρ', "Rho", r"\mathrm{P}"), g('Σ', "Sigma", r"\Sigma"),
    g('Τ', "Tau", r"\mathrm{T}"), g('Υ', "Upsilon", r"\Upsilon"), g('Φ', "Phi", r"\Phi"),
    g('Χ', "Chi", r"\mathrm{X}"), g('Ψ', "Psi", r"\Psi"), g('Ω', "Omega", r"\Omega"),
];

/// The entry of a Greek letter.
pub fn lookup(c: char) -> Option<&'static Greek> {
    GREEK.iter().find(|g| g.letter == c)
}

/// The ASCII spelling of a Greek letter (`σ` and `ς` → `sigma`).
pub fn ascii(c: char) -> Option<&'static str> {
    match c {
        'ς' => Some("sigma"),
        _ => lookup(c).and_then(|g| g.ascii),
    }
}

/// Greek letters spelled out (`σ1` → `sigma1`), other characters kept.
pub fn spell_ascii(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for c in name.chars() {
        match ascii(c) {
            Some(s) => out.push_str(s),
            None => out.push(c),
        }
    }
    out
}

/// A name as the program means it: an ASCII spelling of a Greek letter, alone or followed
/// by digits or `_…` (`alpha`, `alpha2`, `sigma_1`), is that letter (`α`, `α2`, `σ_1`);
/// any other name is kept. Spellings are case-sensitive: `Gamma` is `Γ`, `gamma` is `γ`.
pub fn read_ascii(name: &str) -> String {
    for g in GREEK {
        let Some(spelling) = g.ascii else { continue };
        if let Some(rest) = name.strip_prefix(spelling) {
            if rest.is_empty() || rest.starts_with(|c: char| c.is_ascii_digit() || c == '_') {
                return format!("{}{rest}", g.letter);
            }
        }
    }
    name.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spellings_read_back_as_the_letters() {
        for g in GREEK {
            if let Some(s) = g.ascii {
                assert_eq!(read_ascii(s), g.letter.to_string());
                assert_eq!(spell_ascii(&g.letter.to_string()), s);
            }
        }
        assert_eq!(read_ascii("alpha2"), "α2");
        assert_eq!(read_ascii("sigma_1"), "σ_1");
        assert_eq!(read_ascii("alphabet"), "alphabet");
        assert_eq!(read_ascii("etas"), "etas");
        assert_eq!(read_ascii("x"), "x");
        assert_eq!(spell_ascii("Wσ2"), "Wsigma2");
    }
}
