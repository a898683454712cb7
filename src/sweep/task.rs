//! `traintop sweep task`: one run of a sweep, started however the launcher
//! starts it. The task's folder decides: empty, the config runs into it;
//! a stopped, crashed or failed run there is resumed from its checkpoint; a
//! run that is done or running is left alone. So a resubmitted Slurm task,
//! a resumed sweep and a restarted host all continue rather than repeat.

use std::path::Path;

use super::probe::{self, TaskState};

/// What a task's folder calls for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TaskAction {
    /// Nothing to do, and why.
    Skip(String),
    /// traintop's arguments for the run.
    Run(Vec<String>),
}

pub fn action(out: &Path, config: &Path, sets: &[String], detach: bool) -> TaskAction {
    let p = probe::probe(out, false);
    let mode = if detach { vec!["--detach".to_string()] } else { vec!["--headless".into(), "--quiet".into()] };
    match (p.state, p.run_dir) {
        (TaskState::Done, Some(dir)) => {
            TaskAction::Skip(format!("{}: already done ({})", dir.display(), p.stop_reason.unwrap_or_default()))
        }
        (TaskState::Running, Some(dir)) => TaskAction::Skip(format!(
            "{}: already running (pid {})",
            dir.display(),
            p.pid.map_or("?".into(), |p| p.to_string())
        )),
        (TaskState::Stopped | TaskState::Failed, Some(dir)) => {
            TaskAction::Run([vec!["resume".into(), dir.display().to_string()], mode].concat())
        }
        _ => {
            let mut args = vec!["run".into(), config.display().to_string(), "--out".into(), out.display().to_string()];
            for s in sets {
                args.extend(["--set".into(), s.clone()]);
            }
            TaskAction::Run([args, mode].concat())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_folder_runs_a_stopped_one_resumes_a_done_one_is_left() {
        let out = tempfile::tempdir().unwrap();
        let sets = vec!["run.seed=3".to_string()];
        let TaskAction::Run(args) = action(out.path(), Path::new("/c.toml"), &sets, false) else { panic!() };
        assert_eq!(args[..2], ["run", "/c.toml"]);
        assert!(args.ends_with(&["--set".into(), "run.seed=3".into(), "--headless".into(), "--quiet".into()]));
        let dir = out.path().join("r-1");
        std::fs::create_dir(&dir).unwrap();
        std::fs::write(dir.join("config.toml"), "").unwrap();
        let TaskAction::Run(args) = action(out.path(), Path::new("/c.toml"), &sets, true) else { panic!() };
        assert_eq!(args, ["resume".to_string(), dir.display().to_string(), "--detach".into()]);
        std::fs::write(dir.join("summary.json"), r#"{"stop_reason":"early_stopping"}"#).unwrap();
        assert!(matches!(action(out.path(), Path::new("/c.toml"), &sets, false), TaskAction::Skip(_)));
    }
}
