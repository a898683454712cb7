//! Training time that excludes pauses, so samples/s and the ETA describe the
//! training itself rather than how long the user looked at a paused run.

use std::time::{Duration, Instant};

#[derive(Debug)]
pub struct TrainingClock {
    started: Instant,
    paused_total: Duration,
    paused_since: Option<Instant>,
}

impl TrainingClock {
    pub fn start() -> Self {
        Self { started: Instant::now(), paused_total: Duration::ZERO, paused_since: None }
    }

    pub fn pause(&mut self) {
        self.paused_since.get_or_insert_with(Instant::now);
    }

    pub fn resume(&mut self) {
        if let Some(since) = self.paused_since.take() {
            self.paused_total += since.elapsed();
        }
    }

    /// Seconds spent training (never zero, so rates stay finite).
    pub fn active_secs(&self) -> f64 {
        let paused = self.paused_total + self.paused_since.map(|s| s.elapsed()).unwrap_or_default();
        self.started.elapsed().saturating_sub(paused).as_secs_f64().max(1e-9)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pauses_do_not_count() {
        // Bounds that hold however slow the machine is: sleeps last at least
        // as long as asked.
        let outer = Instant::now();
        let mut c = TrainingClock::start();
        std::thread::sleep(Duration::from_millis(20));
        c.pause();
        std::thread::sleep(Duration::from_millis(60));
        c.resume();
        let active = c.active_secs();
        assert!(active >= 0.02, "{active}");
        assert!(active <= outer.elapsed().as_secs_f64() - 0.06, "{active}");
    }
}
