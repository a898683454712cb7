//! A client's commands are rate limited by a token bucket: a burst goes
//! through at once (a few quick key presses), a steady flow at a fixed rate,
//! and the rest is dropped with one rejection per flood, not one record per
//! command. Every command may rebuild a graph and writes a few records, so
//! without this a script sending 40k toggles stops training for minutes and
//! writes ~100 MB of log.

use std::time::Instant;

/// Commands a client may send at once.
pub const COMMAND_BURST: f64 = 20.0;
/// Commands a second a client may send after its burst.
pub const COMMANDS_PER_SEC: f64 = 10.0;

/// One client's allowance.
pub struct Bucket {
    tokens: f64,
    last: Instant,
}

impl Default for Bucket {
    fn default() -> Self {
        Self { tokens: COMMAND_BURST, last: Instant::now() }
    }
}

impl Bucket {
    /// Whether one more command may go through now (it is counted if so).
    pub fn take(&mut self) -> bool {
        self.take_at(Instant::now())
    }

    fn take_at(&mut self, now: Instant) -> bool {
        let refill = now.saturating_duration_since(self.last).as_secs_f64() * COMMANDS_PER_SEC;
        self.tokens = (self.tokens + refill).min(COMMAND_BURST);
        self.last = now;
        if self.tokens < 1.0 {
            return false;
        }
        self.tokens -= 1.0;
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn a_burst_passes_then_the_steady_rate() {
        let mut b = Bucket::default();
        let t0 = b.last;
        let burst = (0..1000).filter(|_| b.take_at(t0)).count();
        assert_eq!(burst, COMMAND_BURST as usize);
        let later = t0 + Duration::from_secs(2);
        let refilled = (0..1000).filter(|_| b.take_at(later)).count();
        assert_eq!(refilled, (2.0 * COMMANDS_PER_SEC) as usize);
    }
}
