//! Waiting for keys without trusting the terminal to still be there.
//!
//! crossterm's `event::poll` spins on a terminal that hung up (crossterm#793:
//! the read returns EOF or EIO, which it retries forever, at ~100% of a
//! core). So the dashboard waits in its own `poll(2)` on the same descriptor
//! crossterm reads (stdin when it is a terminal, else `/dev/tty`) and only
//! asks crossterm for events when the descriptor is readable; a hang-up
//! (`POLLHUP`, `POLLERR`, `POLLNVAL`) means the terminal is gone and the
//! dashboard leaves.

use std::fs::File;
use std::io;
use std::os::fd::{AsFd, BorrowedFd};
use std::time::Duration;

use rustix::event::{PollFd, PollFlags, Timespec};

/// What the terminal did while we waited.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TtyState {
    /// Bytes to read (keys, a paste, a terminal reply).
    Readable,
    /// Nothing within the timeout.
    Idle,
    /// The terminal hung up: nobody will ever type here again.
    Gone,
}

/// The terminal descriptor crossterm reads keys from.
pub struct TtyWatch {
    /// `/dev/tty`, when stdin is not the terminal.
    tty: Option<File>,
}

impl TtyWatch {
    pub fn open() -> io::Result<Self> {
        if rustix::termios::isatty(rustix::stdio::stdin()) {
            return Ok(Self { tty: None });
        }
        Ok(Self { tty: Some(File::open("/dev/tty")?) })
    }

    fn fd(&self) -> BorrowedFd<'_> {
        match &self.tty {
            Some(f) => f.as_fd(),
            None => rustix::stdio::stdin(),
        }
    }

    /// Waits up to `timeout` for input or a hang-up.
    pub fn wait(&self, timeout: Duration) -> io::Result<TtyState> {
        let fd = self.fd();
        let mut fds = [PollFd::from_borrowed_fd(fd, PollFlags::IN)];
        let timeout = Timespec { tv_sec: timeout.as_secs() as _, tv_nsec: timeout.subsec_nanos() as _ };
        match rustix::event::poll(&mut fds, Some(&timeout)) {
            Ok(0) => Ok(TtyState::Idle),
            Ok(_) => Ok(classify(fds[0].revents())),
            Err(rustix::io::Errno::INTR) => Ok(TtyState::Idle),
            Err(e) => Err(e.into()),
        }
    }
}

fn classify(revents: PollFlags) -> TtyState {
    if revents.intersects(PollFlags::HUP | PollFlags::ERR | PollFlags::NVAL) {
        TtyState::Gone
    } else if revents.contains(PollFlags::IN) {
        TtyState::Readable
    } else {
        TtyState::Idle
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hang_up_wins_over_readable_bytes() {
        assert_eq!(classify(PollFlags::IN | PollFlags::HUP), TtyState::Gone);
        assert_eq!(classify(PollFlags::IN), TtyState::Readable);
        assert_eq!(classify(PollFlags::empty()), TtyState::Idle);
    }
}
