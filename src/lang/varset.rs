//! Sets of variables as bit sets, the free variables of each e-class.

/// A set of variables as bits (see [`crate::lang::MathAnalysis::var_bit`]): unions and intersections
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
