//! Plain-text tables for the terminal: a plan a pathfinder can read down, and the plugin list.
//!
//! Columns have a maximum width and long text wraps at word boundaries, so a plan's `why`
//! sentences stay readable in an 120-column terminal and in a log file alike.

use std::fmt::Write as _;

use pathways_core::{ActionPlan, Lead, PartnerOutcome, StepAction};

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

/// A plan as a pathfinder reads it, top to bottom in the plan's order: what to say first when
/// someone is in danger, a warning when partners did not answer, the lead, one row per need
/// (safety first), the pathfinder's notes, the client's own actions, then how the partners
/// answered. Holds no personal data but the client's own goals and actions, which the
/// pathfinder is reading back to them.
pub fn plan_table(plan: &ActionPlan) -> String {
    let mut out = format!("Plan for case {} (version {})\n", plan.case_id, plan.version);
    if let Some(act_now) = &plan.act_now {
        out.push('\n');
        for (i, line) in wrap(act_now, 100).into_iter().enumerate() {
            let label = if i == 0 { "ACT NOW: " } else { "         " };
            let _ = writeln!(out, "{label}{line}");
        }
    }
    if !plan.complete {
        out.push('\n');
        let _ = writeln!(out, "INCOMPLETE: not every partner answered.");
        for reason in &plan.incomplete {
            for (i, line) in wrap(reason, 98).into_iter().enumerate() {
                let _ = writeln!(out, "{}{line}", if i == 0 { "- " } else { "  " });
            }
        }
    }
    out.push('\n');
    let (lead_name, lead_kind) = match &plan.lead {
        Lead::Referrer { organisation, .. } => {
            (organisation.name.as_str(), "referring organisation")
        }
        Lead::Partner { partner, .. } => (partner.name.as_str(), "partner"),
    };
    let _ = writeln!(out, "Lead: {lead_name} ({lead_kind})");
    for line in wrap(plan.lead.why(), 100) {
        let _ = writeln!(out, "  {line}");
    }
    if let Some(language) = &plan.interpreter {
        let _ = writeln!(out, "Interpreter needed: {language} (every referral says so)");
    }
    out.push('\n');

    let mut table = Table::new(&[
        ("#", 2),
        ("NEED", 26),
        ("ACTION", 9),
        ("SERVICE", 26),
        ("DUE BY", 11),
        ("WHAT TO SAY", 60),
    ]);
    let mut notes: Vec<String> = Vec::new();
    for step in &plan.steps {
        let mut why = step.why.clone();
        for fallback in step.fallbacks() {
            why.push_str(&format!("\n- {}", fallback.why));
        }
        // One signpost per line, so a phone number is never split across lines.
        for signpost in step.signposts() {
            why.push_str(&format!("\n- {signpost}"));
        }
        let service = match &step.action {
            StepAction::InHouse { organisation, .. } => organisation.name.clone(),
            _ => step
                .chosen()
                .map(|c| format!("{} ({})", c.service.name, c.partner.name))
                .unwrap_or_else(|| "-".into()),
        };
        let need =
            if step.safety { format!("{} (safety)", step.need) } else { step.need.to_string() };
        table.row(vec![
            step.order.to_string(),
            format!("{need}\n[{}] {}", step.need_id, step.urgency.as_str()),
            action_word(&step.action).into(),
            service,
            step.due_by.format("%a %-d %b").to_string(),
            why,
        ]);
        if let Some(note) = &step.note {
            notes.push(format!("{}. {note}", step.order));
        }
    }
    out.push_str(&table.render());

    if !notes.is_empty() {
        out.push_str("\nFor the pathfinder:\n");
        for note in &notes {
            for (i, line) in wrap(note, 104).into_iter().enumerate() {
                let _ = writeln!(out, "{}{line}", if i == 0 { "  " } else { "     " });
            }
        }
    }
    if !plan.client_actions.is_empty() || !plan.goals.is_empty() {
        out.push_str("\nThe client's own plan:\n");
        for goal in &plan.goals {
            let _ = writeln!(out, "  Goal: {}", goal.expose());
        }
        for action in &plan.client_actions {
            let _ = writeln!(out, "  Will do: {}", action.text.expose());
        }
    }

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
                    PartnerOutcome::Unreachable => "unreachable",
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

fn action_word(action: &StepAction) -> &'static str {
    match action {
        StepAction::Refer(_) => "refer",
        StepAction::Signpost(_) => "signpost",
        StepAction::SelfHelp(_) => "self-help",
        StepAction::InHouse { .. } => "in-house",
        StepAction::Declined { .. } => "declined",
        StepAction::Blocked { .. } => "BLOCKED",
        StepAction::Unmet { .. } => "unmet",
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
