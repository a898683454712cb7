//! A live fork on the dashboard: `fork_started` opens branch B's curves
//! behind this run's (branch A's), B's `branch` records fill them, and
//! `fork_ended` says which branch was kept and where the other one's folder
//! is. B's curves stay drawn after the keep, frozen, so the comparison stays
//! on screen.

use super::App;
use crate::protocol::{ForkBranch, RunEvent};
use crate::tui::baseline::BranchB;
use crate::tui::state::LogKind;

/// The fork as the header shows it.
#[derive(Clone, Debug, PartialEq)]
pub struct ForkView {
    pub step: u64,
    /// What branch A changed, e.g. "batch_norm on".
    pub change: String,
    /// Branch B's run folder.
    pub branch_dir: String,
    /// Set once a branch was kept.
    pub kept: Option<ForkBranch>,
    /// [`ForkView::describe`], kept for the footer to borrow.
    pub line: String,
}

impl ForkView {
    /// One line for the header or footer.
    pub fn describe(&self) -> String {
        match self.kept {
            None => {
                format!("fork at step {}: A = {} (this run), B = as before · A/B keeps one", self.step, self.change)
            }
            Some(k) => format!("fork at step {}: kept {} ({})", self.step, k.letter(), self.change),
        }
    }
}

impl App {
    pub(super) fn on_fork(&mut self, e: RunEvent) {
        match e {
            RunEvent::ForkStarted { step, change, branch_dir } => {
                self.branch = Some(BranchB::new("B as before".into()));
                let text = format!("forked: A = {change} here, B as before in {branch_dir}");
                self.push_log(Some(step), text, LogKind::State);
                let mut view = ForkView { step, change, branch_dir, kept: None, line: String::new() };
                view.line = view.describe();
                self.fork = Some(view);
                // The fork's line replaces the "requested" notice in the footer.
                self.notice = None;
            }
            RunEvent::Branch { record } => self.branch_record(*record),
            RunEvent::ForkEnded { step, kept, other_dir } => {
                let other = match kept {
                    ForkBranch::A => "B",
                    ForkBranch::B => "A's steps stay in this folder, B",
                };
                let text = format!("kept {}; {other} is in {other_dir}", kept.letter());
                self.push_log(Some(step), text, LogKind::State);
                if let Some(f) = self.fork.as_mut() {
                    f.kept = Some(kept);
                    f.line = f.describe();
                }
            }
            _ => {}
        }
    }

    fn branch_record(&mut self, record: RunEvent) {
        let Some(branch) = self.branch.as_mut() else { return };
        match record {
            RunEvent::Step(r) => branch.charts.add_step(&r),
            RunEvent::Epoch(r) => branch.charts.add_epoch(&r),
            // B's own words, marked as B's.
            RunEvent::Finished { .. } => self.narrate_branch(&record, "B ", LogKind::State),
            RunEvent::Log { .. } => self.narrate_branch(&record, "B: ", LogKind::Info),
            RunEvent::Diverged { .. } => self.narrate_branch(&record, "B ", LogKind::Warn),
            RunEvent::RolledBack { step, to_step, .. } => {
                self.push_log(Some(step), format!("B rolled back to step {to_step}"), LogKind::Warn)
            }
            RunEvent::StopRequested { .. } => self.narrate_branch(&record, "B: ", LogKind::State),
            _ => {}
        }
    }

    fn narrate_branch(&mut self, record: &RunEvent, prefix: &str, kind: LogKind) {
        if let Some(text) = record.describe() {
            self.push_log(record.step(), format!("{prefix}{text}"), kind);
        }
    }
}
