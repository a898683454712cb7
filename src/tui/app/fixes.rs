//! The divergence banner's one-key fixes: `h` halves the learning rate and
//! `g` switches grad_clip on, each then resuming the run (`p` resumes as
//! is, as it always does). Two commands go out, the fix and then `resume`,
//! in that order on the one channel, so the trainer applies the fix before
//! the next step.

use super::App;
use crate::protocol::RunCommand;
use crate::tui::input::Action;
use crate::tui::state::GradClip;

impl App {
    pub(super) fn fix(&mut self, action: Action) -> Vec<RunCommand> {
        let Some(lr) = self.divergence.as_ref().map(|d| d.lr) else {
            self.notice = Some("h and g fix a divergence when the run pauses at one; L sets the rate".into());
            return vec![];
        };
        if !self.live() {
            return self.refuse().into_iter().collect();
        }
        let (notice, command) = match (action, self.grad_clip()) {
            (Action::HalveLearningRate, _) => (
                format!("learning rate {} requested, then resume", lr / 2.0),
                RunCommand::SetLearningRate { lr: lr / 2.0 },
            ),
            (_, GradClip::Off) => (
                "grad_clip on requested, then resume".into(),
                RunCommand::Toggle { technique: "grad_clip".into(), enabled: true },
            ),
            (_, GradClip::On) => {
                self.notice = Some("grad_clip is on already: h halves the rate, p resumes as is".into());
                return vec![];
            }
            (_, GradClip::NotLoaded) => {
                self.notice = Some("grad_clip is not in this run: name it in a [[technique]] entry".into());
                return vec![];
            }
        };
        // The fix, then the resume: both or (read-only) neither.
        match self.send(notice, command) {
            Some(fix) => vec![fix, RunCommand::Resume],
            None => vec![],
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::protocol::{RunEvent, RunState, TechniqueView, ToggleClass};
    use crate::tui::app::tests::{scripted, step, techniques};
    use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

    fn press(app: &mut App, c: char) -> Vec<RunCommand> {
        app.on_key(KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE))
    }

    fn with_grad_clip(enabled: bool) -> Vec<TechniqueView> {
        let mut list = techniques(true);
        let status = String::new();
        list.push(TechniqueView {
            name: "grad_clip".into(),
            enabled,
            class: ToggleClass::Structural,
            params: vec![],
            status,
        });
        list
    }

    /// The scripted run blew up after step 40 and went back to step 40.
    pub(crate) fn diverged(grad_clip: Option<bool>) -> App {
        let mut app = scripted();
        if let Some(enabled) = grad_clip {
            app.apply(RunEvent::Techniques { techniques: with_grad_clip(enabled) });
        }
        for s in 51..=55 {
            let mut r = step(s);
            r.loss = 1e12;
            r.epoch = 5;
            app.apply(RunEvent::Step(r));
        }
        let cause = "smoothed loss 1.07e12 is over 10x its best (0.0600) and over the learned-nothing loss (2.30); step loss 4417";
        app.apply(RunEvent::Diverged { step: 56, loss: 4417.0, cause: cause.into() });
        let (step, to_step, cause, lr) = (56, 40, cause.to_string(), 0.01);
        app.apply(RunEvent::RolledBack { step, to_step, cause, lr, attempt: 1, paused: true });
        app.apply(RunEvent::State { step: 40, state: RunState::Paused });
        app
    }

    #[test]
    fn a_paused_rollback_shows_the_banner_and_rewinds_the_charts() {
        let app = diverged(None);
        let d = app.divergence.as_ref().expect("the banner");
        assert_eq!((d.step, d.to_step, d.lr), (56, 40, 0.01));
        let points = app.charts.train_loss.points();
        assert!(points.iter().all(|p| p.0 <= 40.0 && p.1 < 1e6), "the blown-up stretch is gone: {points:?}");
        assert!(app.charts.markers.iter().any(|(s, l)| *s == 40 && l.contains("rolled back from step 56")));
        assert_eq!(app.progress.step, 40);
    }

    #[test]
    fn h_halves_the_rate_then_resumes() {
        let mut app = diverged(None);
        assert_eq!(press(&mut app, 'h'), vec![RunCommand::SetLearningRate { lr: 0.005 }, RunCommand::Resume]);
        app.apply(RunEvent::State { step: 40, state: RunState::Running });
        assert_eq!(app.divergence, None, "running again: the banner goes");
        assert_eq!(press(&mut app, 'h'), vec![], "no divergence to fix now");
        assert!(app.notice.as_deref().unwrap().contains("L sets the rate"));
    }

    #[test]
    fn g_switches_grad_clip_on_then_resumes_when_it_can() {
        let mut app = diverged(Some(false));
        let on = RunCommand::Toggle { technique: "grad_clip".into(), enabled: true };
        assert_eq!(press(&mut app, 'g'), vec![on, RunCommand::Resume], "the fix, then the resume");

        let mut app = diverged(Some(true));
        assert_eq!(press(&mut app, 'g'), vec![]);
        assert!(app.notice.as_deref().unwrap().contains("on already"));
        let mut app = diverged(None);
        assert_eq!(press(&mut app, 'g'), vec![]);
        assert!(app.notice.as_deref().unwrap().contains("not in this run"));
        assert_eq!(press(&mut app, 'p'), vec![RunCommand::Resume], "p resumes as is");
    }

    #[test]
    fn a_read_only_client_sends_no_fix() {
        let mut app = diverged(Some(false));
        app.set_attached(true, true);
        assert_eq!(press(&mut app, 'h'), vec![], "neither the fix nor the resume");
        assert!(app.notice.as_deref().unwrap().contains("read-only"));
    }

    #[test]
    fn an_unpaused_rollback_logs_without_a_banner() {
        let mut app = scripted();
        let cause = "loss is NaN".to_string();
        app.apply(RunEvent::RolledBack { step: 50, to_step: 20, cause, lr: 0.005, attempt: 2, paused: false });
        assert_eq!(app.divergence, None);
        assert!(app.log.iter().any(|l| l.text.contains("rolled back from step 50, lr=0.005")));
    }
}
