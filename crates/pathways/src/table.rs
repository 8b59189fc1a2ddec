//! Plain-text tables for the terminal: a plan a pathfinder can read down, and the plugin list.
//!
//! Columns have a maximum width and long text wraps at word boundaries, so a plan's `why`
//! sentences stay readable in an 120-column terminal and in a log file alike.

use std::fmt::Write as _;

use pathways_core::{ActionPlan, PartnerOutcome, StepAction};

/// A table of text cells with wrapped columns.
#[derive(Debug)]
pub struct Table {
    headers: Vec<&'static str>,
    max_widths: Vec<usize>,
    rows: Vec<Vec<String>>,
}

impl Table {
    /// A table with these columns, each at most `max_width` characters wide.
    pub fn new(columns: &[(&'static str, usize)]) -> Self {
        Self {
            headers: columns.iter().map(|(h, _)| *h).collect(),
            max_widths: columns.iter().map(|(_, w)| *w).collect(),
            rows: Vec::new(),
        }
    }

    /// Adds a row; missing cells are blank.
    pub fn row(&mut self, cells: Vec<String>) {
        self.rows.push(cells);
    }

    /// The table as lines of text, header first.
    pub fn render(&self) -> String {
        let wrapped: Vec<Vec<Vec<String>>> = self
            .rows
            .iter()
            .map(|row| {
                (0..self.headers.len())
                    .map(|c| {
                        wrap_cell(row.get(c).map(String::as_str).unwrap_or(""), self.max_widths[c])
                    })
                    .collect()
            })
            .collect();
        let widths: Vec<usize> = (0..self.headers.len())
            .map(|c| {
                let cells = wrapped.iter().flat_map(|row| row[c].iter().map(|l| width(l)));
                cells.chain([width(self.headers[c])]).max().unwrap_or(0)
            })
            .collect();
        let mut out = String::new();
        let header: Vec<String> = self.headers.iter().map(|h| h.to_string()).collect();
        push_line(&mut out, &header, &widths);
        let rules: Vec<String> = widths.iter().map(|w| "-".repeat(*w)).collect();
        push_line(&mut out, &rules, &widths);
        for row in &wrapped {
            let height = row.iter().map(Vec::len).max().unwrap_or(1);
            for line in 0..height {
                let cells: Vec<String> =
                    row.iter().map(|cell| cell.get(line).cloned().unwrap_or_default()).collect();
                push_line(&mut out, &cells, &widths);
            }
        }
        out
    }
}

fn push_line(out: &mut String, cells: &[String], widths: &[usize]) {
    let mut line = String::new();
    for (cell, w) in cells.iter().zip(widths) {
        let _ = write!(line, "{cell}{}  ", " ".repeat(w.saturating_sub(width(cell))));
    }
    out.push_str(line.trim_end());
    out.push('\n');
}

fn width(text: &str) -> usize {
    text.chars().count()
}

/// Wraps each line of a cell on its own, so a cell can hold a list; a `- ` item's
/// continuation lines are indented under its text.
fn wrap_cell(text: &str, max: usize) -> Vec<String> {
    if text.is_empty() {
        return vec![String::new()];
    }
    let mut lines = Vec::new();
    for line in text.lines() {
        match line.strip_prefix("- ") {
            Some(item) => {
                for (i, part) in wrap(item, max.saturating_sub(2)).into_iter().enumerate() {
                    lines.push(format!("{}{part}", if i == 0 { "- " } else { "  " }));
                }
            }
            None => lines.extend(wrap(line, max)),
        }
    }
    lines
}

/// Splits `text` into lines of at most `max` characters at spaces; a word longer than `max`
/// is cut.
pub fn wrap(text: &str, max: usize) -> Vec<String> {
    let max = max.max(1);
    let mut lines: Vec<String> = Vec::new();
    let mut line = String::new();
    for word in text.split_whitespace() {
        let mut word = word.to_string();
        while width(&word) > max {
            if !line.is_empty() {
                lines.push(std::mem::take(&mut line));
            }
            let cut: String = word.chars().take(max).collect();
            word = word.chars().skip(max).collect();
            lines.push(cut);
        }
        if line.is_empty() {
            line = word;
        } else if width(&line) + 1 + width(&word) <= max {
            line.push(' ');
            line.push_str(&word);
        } else {
            lines.push(std::mem::replace(&mut line, word));
        }
    }
    if !line.is_empty() || lines.is_empty() {
        lines.push(line);
    }
    lines
}

/// A plan as a pathfinder reads it: the lead, one row per need in order, then how the partners
/// answered. Holds no personal data: a plan has none.
pub fn plan_table(plan: &ActionPlan) -> String {
    let mut out = format!("Plan for case {}\n", plan.case_id);
    let _ = writeln!(out, "Lead: {}", plan.lead.partner_id);
    for line in wrap(&plan.lead.why, 100) {
        let _ = writeln!(out, "  {line}");
    }
    out.push('\n');

    let mut table = Table::new(&[
        ("#", 2),
        ("NEED", 26),
        ("ACTION", 6),
        ("PARTNER", 24),
        ("SERVICE", 24),
        ("DUE BY", 10),
        ("WHY", 60),
    ]);
    for step in &plan.steps {
        let mut why = step.why.clone();
        for fallback in &step.fallbacks {
            why.push_str(&format!("\n- {}", fallback.why));
        }
        table.row(vec![
            step.order.to_string(),
            step.need.to_string(),
            action_word(step.action).into(),
            step.partner_id.clone().unwrap_or_else(|| "-".into()),
            step.service.as_ref().map(|s| s.name.clone()).unwrap_or_else(|| "-".into()),
            step.due_by.to_string(),
            why,
        ]);
    }
    for unmet in &plan.unmet {
        // One signpost per line, so a phone number is never split across lines.
        let signposts: String = unmet.signposts.iter().map(|s| format!("\n- {s}")).collect();
        table.row(vec![
            "-".into(),
            unmet.need.to_string(),
            "unmet".into(),
            "-".into(),
            "-".into(),
            "-".into(),
            format!("{}{signposts}", unmet.why),
        ]);
    }
    out.push_str(&table.render());

    out.push('\n');
    if plan.partners.is_empty() {
        out.push_str("No enabled partner serves these needs in this area.\n");
    } else {
        let reports: Vec<String> = plan
            .partners
            .iter()
            .map(|p| {
                let outcome = match p.outcome {
                    PartnerOutcome::Answered => "answered",
                    PartnerOutcome::TimedOut => "timed out",
                    PartnerOutcome::Failed => "failed",
                    PartnerOutcome::CircuitOpen => "circuit open",
                    PartnerOutcome::Skipped => "skipped",
                };
                let detail = p.detail.as_deref().map(|d| format!(": {d}")).unwrap_or_default();
                format!("{} {outcome} in {} ms{detail}", p.partner_id, p.latency_ms)
            })
            .collect();
        for (i, line) in wrap(&reports.join("; "), 110).into_iter().enumerate() {
            let label = if i == 0 { "Partners asked: " } else { "                " };
            let _ = writeln!(out, "{label}{line}");
        }
    }
    out
}

fn action_word(action: StepAction) -> &'static str {
    match action {
        StepAction::Refer => "refer",
        StepAction::Signpost => "signpost",
        StepAction::SelfHelp => "self-help",
        StepAction::Unmet => "unmet",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wraps_at_word_boundaries_and_cuts_overlong_words() {
        assert_eq!(wrap("can see you on Tuesday", 10), ["can see", "you on", "Tuesday"]);
        assert_eq!(wrap("abcdefghij", 4), ["abcd", "efgh", "ij"]);
        assert_eq!(wrap("", 4), [""]);
        assert_eq!(wrap_cell("why\n- one\n- two", 20), ["why", "- one", "- two"]);
        assert_eq!(wrap_cell("", 20), [""]);
        assert_eq!(
            wrap_cell("- Shelter: 0808 800 4444", 12),
            ["- Shelter:", "  0808 800", "  4444"]
        );
    }

    #[test]
    fn columns_line_up_across_wrapped_rows() {
        let mut table = Table::new(&[("A", 3), ("B", 20)]);
        table.row(vec!["1".into(), "one two three four five".into()]);
        let text = table.render();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "A  B");
        assert_eq!(lines[2], "1  one two three four");
        assert_eq!(lines[3], "   five");
    }
}
