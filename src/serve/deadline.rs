//! A socket read with an absolute deadline: each read waits only for what is
//! left of the time, so a peer that trickles one byte at a time cannot keep
//! its connection by restarting a per-read timeout (slowloris).

use std::io::{self, Read};
use std::os::unix::net::UnixStream;
use std::time::{Duration, Instant};

/// A stream whose reads fail with `TimedOut` once the deadline has passed.
pub struct Deadline {
    stream: UnixStream,
    until: Option<Instant>,
}

impl Deadline {
    /// Reads from `stream` until `within` from now.
    pub fn new(stream: UnixStream, within: Duration) -> Self {
        Self { stream, until: Some(Instant::now() + within) }
    }

    /// No deadline from now on (the hello is done: a watching client may be
    /// quiet for as long as it likes).
    pub fn lift(&mut self) {
        self.until = None;
        let _ = self.stream.set_read_timeout(None);
    }
}

impl Read for Deadline {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if let Some(until) = self.until {
            let left = until.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(io::Error::new(io::ErrorKind::TimedOut, "deadline passed"));
            }
            // A socket option: it holds for every handle on this socket.
            self.stream.set_read_timeout(Some(left))?;
        }
        self.stream.read(buf)
    }
}

/// Whether a read failed because its time was up.
pub fn timed_out(e: &io::Error) -> bool {
    matches!(e.kind(), io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn trickled_bytes_do_not_extend_the_deadline() {
        let (mut peer, ours) = UnixStream::pair().unwrap();
        let mut reader = Deadline::new(ours, Duration::from_millis(300));
        let started = Instant::now();
        let mut buf = [0u8; 1];
        let err = loop {
            let _ = peer.write_all(b"x");
            match reader.read(&mut buf) {
                Ok(_) => std::thread::sleep(Duration::from_millis(50)),
                Err(e) => break e,
            }
            assert!(started.elapsed() < Duration::from_secs(30), "never timed out");
        };
        assert!(timed_out(&err), "{err}");
    }
}
