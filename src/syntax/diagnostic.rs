//! Diagnostics: an error message with a place in the source, rendered like rustc's.
//!
//! ```text
//! error: W1 x: cannot multiply W1 (m×n) by x (p×1)
//!  --> line 3, column 5
//!   |
//! 3 | L(σ(W1 x) ∘ W2)
//!   |     ^^^^ W1 has n columns but x has p rows
//!   |
//!   = note: …
//! ```
//!
//! Carets are counted in characters, not bytes, so they line up under Unicode source.

use crate::syntax::ast::Span;
use std::fmt::Write as _;

/// An input error: what is wrong, where, and notes on how to fix it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct Diagnostic {
    /// One line: what is wrong.
    pub message: String,
    /// The place, underlined with `^`.
    pub span: Span,
    /// Printed after the carets (may be empty).
    pub label: String,
    /// Other places that explain the error, underlined with `-`.
    pub secondary: Vec<(Span, String)>,
    /// Printed last, one `= note:` line each.
    pub notes: Vec<String>,
}

impl Diagnostic {
    /// An error with this message, pointing at `span`.
    pub fn new(message: impl Into<String>, span: Span) -> Diagnostic {
        Diagnostic {
            message: message.into(),
            span,
            label: String::new(),
            secondary: vec![],
            notes: vec![],
        }
    }

    /// The same, with this label after the carets.
    pub fn with_label(mut self, label: impl Into<String>) -> Diagnostic {
        self.label = label.into();
        self
    }

    /// The same, with one more `= note:` line.
    pub fn with_note(mut self, note: impl Into<String>) -> Diagnostic {
        self.notes.push(note.into());
        self
    }

    /// The same, with another place underlined, labelled.
    pub fn with_secondary(mut self, span: Span, label: impl Into<String>) -> Diagnostic {
        self.secondary.push((span, label.into()));
        self
    }

    /// The 1-based line and column (in characters) where the span starts.
    pub fn line_col(&self, source: &str) -> (usize, usize) {
        let loc = Location::of(source, self.span.start);
        (loc.line, loc.column)
    }

    /// The diagnostic as rustc would print it, for a terminal (no colours).
    pub fn render(&self, source: &str) -> String {
        let primary = Location::of(source, self.span.start);
        let mut lines = vec![primary.line];
        lines.extend(
            self.secondary
                .iter()
                .map(|(span, _)| Location::of(source, span.start).line),
        );
        let width = lines.iter().max().unwrap_or(&1).to_string().len();
        let pad = " ".repeat(width);

        let mut out = String::new();
        let _ = writeln!(out, "error: {}", self.message);
        let _ = writeln!(
            out,
            "{pad}--> line {}, column {}",
            primary.line, primary.column
        );
        let _ = writeln!(out, "{pad} |");
        snippet(&mut out, source, self.span, '^', &self.label, width);
        for (span, label) in &self.secondary {
            let _ = writeln!(out, "{pad} |");
            snippet(&mut out, source, *span, '-', label, width);
        }
        if !self.notes.is_empty() {
            let _ = writeln!(out, "{pad} |");
            for note in &self.notes {
                let _ = writeln!(out, "{pad} = note: {note}");
            }
        }
        out
    }
}

/// Where a byte offset is: its line, column and the line's byte range.
struct Location {
    line: usize,
    column: usize,
    line_start: usize,
    line_end: usize,
}

impl Location {
    fn of(source: &str, offset: usize) -> Location {
        let mut offset = offset.min(source.len());
        while !source.is_char_boundary(offset) {
            offset -= 1;
        }
        let before = &source[..offset];
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        let line_end = source[offset..]
            .find('\n')
            .map_or(source.len(), |i| offset + i);
        let line_end = if source[line_start..line_end].ends_with('\r') {
            line_end - 1
        } else {
            line_end
        };
        Location {
            line: before.matches('\n').count() + 1,
            column: source[line_start..offset].chars().count() + 1,
            line_start,
            line_end: line_end.max(line_start),
        }
    }
}

/// One source line with the span underlined by `mark` characters and the label after.
fn snippet(out: &mut String, source: &str, span: Span, mark: char, label: &str, width: usize) {
    let loc = Location::of(source, span.start);
    let start = span
        .start
        .clamp(loc.line_start, loc.line_end.max(loc.line_start));
    let start = floor_boundary(source, start);
    let end = floor_boundary(source, span.end.clamp(start, loc.line_end));
    let line = &source[loc.line_start..loc.line_end];
    // Keep tabs in the indentation so that the carets line up with the text above.
    let indent: String = source[loc.line_start..start]
        .chars()
        .map(|c| if c == '\t' { '\t' } else { ' ' })
        .collect();
    let count = source[start..end].chars().count().max(1);
    let marks = mark.to_string().repeat(count);
    let _ = writeln!(out, "{:>width$} | {line}", loc.line);
    let label = if label.is_empty() {
        String::new()
    } else {
        format!(" {label}")
    };
    let _ = writeln!(out, "{:width$} | {indent}{marks}{label}", "");
}

fn floor_boundary(source: &str, mut i: usize) -> usize {
    i = i.min(source.len());
    while !source.is_char_boundary(i) {
        i -= 1;
    }
    i
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_like_rustc_with_char_columns() {
        let src = "x : R^n\nL(σ(W1 x) ∘ W2)\n";
        let start = src.find("W1").unwrap_or(0);
        let d = Diagnostic::new("W1 x: cannot multiply", Span::new(start, start + 4))
            .with_label("here")
            .with_note("a note");
        let expected = "\
error: W1 x: cannot multiply
 --> line 2, column 5
  |
2 | L(σ(W1 x) ∘ W2)
  |     ^^^^ here
  |
  = note: a note
";
        assert_eq!(d.render(src), expected);
        assert_eq!(d.line_col(src), (2, 5));
    }

    #[test]
    fn unicode_span_counts_chars() {
        let src = "α ∘ β";
        // `∘` is three bytes but one caret.
        let d = Diagnostic::new("m", Span::new(3, 6));
        let r = d.render(src);
        assert!(r.contains("1 | α ∘ β\n  |   ^\n"), "{r}");
    }

    #[test]
    fn empty_span_at_end_and_secondary() {
        let src = "x : R^n\nx : R^m";
        let d = Diagnostic::new("declared twice", Span::new(8, 9))
            .with_secondary(Span::new(0, 1), "first declared here");
        let r = d.render(src);
        assert!(r.contains("2 | x : R^m\n  | ^\n"), "{r}");
        assert!(
            r.contains("1 | x : R^n\n  | - first declared here\n"),
            "{r}"
        );
        let eof = Diagnostic::new("expected an expression", Span::at(src.len()));
        assert!(
            eof.render(src).contains("  |        ^\n"),
            "{}",
            eof.render(src)
        );
    }

    #[test]
    fn tabs_and_bad_spans_do_not_panic() {
        let src = "\tx ∘ y";
        let d = Diagnostic::new("m", Span::new(1, 2));
        assert!(d.render(src).contains("1 | \tx ∘ y\n  | \t^\n"));
        // Out of range and inside a multi-byte character.
        for span in [Span::new(100, 200), Span::new(4, 5), Span::new(3, 100)] {
            let r = Diagnostic::new("m", span).render(src);
            assert!(r.starts_with("error: m\n"));
        }
        let crlf = "a\r\nb c";
        let r = Diagnostic::new("m", Span::new(3, 4)).render(crlf);
        assert!(r.contains("2 | b c\n  | ^\n"), "{r}");
    }

    #[test]
    fn multi_digit_line_numbers_widen_the_gutter() {
        let src = "x\n".repeat(11) + "y";
        let d = Diagnostic::new("m", Span::new(22, 23));
        let r = d.render(&src);
        assert!(
            r.contains("  --> line 12, column 1\n   |\n12 | y\n   | ^\n"),
            "{r}"
        );
    }
}
