//! Plain-text tables for the transcript commands: columns padded to their widest cell, numbers
//! right-aligned, a bold header (and total) when colour is on, and one column that gives way
//! (cut with `…`) so a row fits the width the output is laid out for.
//!
//! Must not decide what is shown: callers choose the columns for the width.

use std::io::Write;

use unicode_width::{UnicodeWidthChar, UnicodeWidthStr};

use crate::converters::ansi;

/// Space between columns.
const GAP: &str = "  ";

/// Fewest characters the giving column keeps, however narrow the output: less says nothing.
const MIN_FLEX_CHARS: usize = 12;

/// A table being built.
pub struct Table {
    header: Vec<String>,
    /// Right-aligned (number) columns.
    right: Vec<bool>,
    rows: Vec<Vec<String>>,
    /// The last row is a total, shown bold like the header.
    total: bool,
}

impl Table {
    /// A table with these columns; `right[i]` right-aligns column `i`.
    pub fn new(header: &[&str], right: &[bool]) -> Table {
        Table {
            header: header.iter().map(|h| h.to_string()).collect(),
            right: right.to_vec(),
            rows: Vec::new(),
            total: false,
        }
    }

    /// Adds a row. Cells often hold transcript text (a title, a prompt, a model's name), which
    /// anyone may have written: their control sequences are dropped, so that none reaches the
    /// terminal or skews the columns.
    pub fn row(&mut self, cells: Vec<String>) {
        let cells = cells
            .into_iter()
            .map(|c| match ansi::clean(&c, ansi::Keep::Nothing) {
                std::borrow::Cow::Borrowed(_) => c,
                std::borrow::Cow::Owned(clean) => clean,
            })
            .collect();
        self.rows.push(cells);
    }

    /// Marks the last row as the total.
    pub fn with_total(mut self) -> Table {
        self.total = true;
        self
    }

    /// The narrowest the table gets with column `flex` cut as far as it may be.
    pub fn min_width(&self, flex: usize) -> usize {
        let widths = self.widths();
        let others: usize = widths
            .iter()
            .enumerate()
            .filter(|(i, _)| *i != flex)
            .map(|(_, w)| w)
            .sum();
        others + widths[flex].min(MIN_FLEX_CHARS) + GAP.len() * widths.len().saturating_sub(1)
    }

    fn widths(&self) -> Vec<usize> {
        let mut widths: Vec<usize> = self.header.iter().map(|h| h.width()).collect();
        for r in &self.rows {
            for (w, c) in widths.iter_mut().zip(r.iter()) {
                *w = (*w).max(c.width());
            }
        }
        widths
    }

    /// Writes the table; with a `width`, column `flex` is cut so that rows fit in it.
    pub fn write(
        &self,
        out: &mut impl Write,
        color: bool,
        width: Option<usize>,
        flex: Option<usize>,
    ) -> std::io::Result<()> {
        let columns = self.header.len();
        let mut widths = self.widths();
        if let (Some(width), Some(f)) = (width, flex) {
            let others: usize = widths
                .iter()
                .enumerate()
                .filter(|(i, _)| *i != f)
                .map(|(_, w)| w)
                .sum::<usize>()
                + GAP.len() * columns.saturating_sub(1);
            widths[f] = widths[f].min(width.saturating_sub(others).max(MIN_FLEX_CHARS));
        }
        let (bold, reset) = if color {
            ("\x1b[1m", "\x1b[0m")
        } else {
            ("", "")
        };
        let line = |cells: &[String]| -> String {
            let mut s = String::new();
            for (i, c) in cells.iter().enumerate().take(columns) {
                if i > 0 {
                    s.push_str(GAP);
                }
                let c = cut_to(c, widths[i]);
                let pad = " ".repeat(widths[i].saturating_sub(c.width()));
                if self.right.get(i).copied().unwrap_or(false) {
                    s.push_str(&pad);
                    s.push_str(&c);
                } else {
                    s.push_str(&c);
                    s.push_str(&pad);
                }
            }
            s.trim_end().to_string()
        };
        writeln!(out, "{bold}{}{reset}", line(&self.header))?;
        let n = self.rows.len();
        for (i, r) in self.rows.iter().enumerate() {
            if self.total && i + 1 == n {
                writeln!(out, "{bold}{}{reset}", line(r))?;
            } else {
                writeln!(out, "{}", line(r))?;
            }
        }
        Ok(())
    }
}

/// `s` cut to `width` terminal columns, ending in `…` when cut.
pub fn cut_to(s: &str, width: usize) -> String {
    if s.width() <= width {
        return s.to_string();
    }
    let mut out = String::new();
    let mut used = 0;
    for c in s.chars() {
        let w = c.width().unwrap_or(0);
        if used + w + 1 > width {
            break;
        }
        used += w;
        out.push(c);
    }
    out.push('…');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_giving_column_is_cut_to_fit() {
        let mut t = Table::new(&["N", "Text"], &[true, false]);
        t.row(vec![
            "1".into(),
            "a long line of text that will not fit".into(),
        ]);
        let mut out = Vec::new();
        t.write(&mut out, false, Some(20), Some(1)).unwrap();
        let text = String::from_utf8(out).unwrap();
        for l in text.lines() {
            assert!(l.width() <= 20, "{l:?}");
        }
        assert!(text.contains("a long line of t…"), "{text}");
    }

    #[test]
    fn cutting_counts_terminal_columns() {
        assert_eq!(cut_to("日本語テキスト", 7), "日本語…");
        assert_eq!(cut_to("abc", 3), "abc");
    }
}
