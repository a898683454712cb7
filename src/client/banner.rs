//! What a remote prints before the protocol over ssh: a login script's echo
//! (`.bashrc`), a message of the day. Such lines come before the hello on
//! ssh's stdout; they are set aside (and named if no hello follows) instead
//! of failing the first JSON parse with "expected value at line 1 column 1".

use std::io::{self, BufRead, BufReader, Read, Write};

use super::session::{self, ConnectionError, RunConnection};
use crate::protocol::{ClientId, Want};

/// How many banner lines a message quotes, and how many bytes of banner
/// are skipped before giving up on a hello (a remote that prints forever).
const QUOTED: usize = 5;
const MAX_BANNER: usize = 64 * 1024;
/// How much of one banner line a message quotes.
const MAX_QUOTED_LINE: usize = 200;

/// The lines skipped before the protocol began.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Banner {
    /// The first [`QUOTED`] lines, without their newlines.
    pub lines: Vec<String>,
    /// How many lines there were in all.
    pub count: usize,
}

impl Banner {
    /// The lines for a message: quoted, control characters escaped by the
    /// caller's `clean`, and a count of the rest.
    pub fn describe(&self) -> String {
        let quoted: Vec<String> = self.lines.iter().map(|l| format!("{:?}", l)).collect();
        let more = match self.count.saturating_sub(self.lines.len()) {
            0 => String::new(),
            n => format!(" and {n} more line{}", if n == 1 { "" } else { "s" }),
        };
        format!("{}{more}", quoted.join(", "))
    }
}

/// Skips whole lines up to the first one that starts with `first` (`{` for
/// the protocol, `[` for `ls --json`), leaving that line unread. Stops at
/// the end of the stream, or after [`MAX_BANNER`] bytes.
pub fn skip<R: BufRead>(read: &mut R, first: u8) -> io::Result<Banner> {
    let mut banner = Banner::default();
    let mut skipped = 0;
    // The line being skipped, as far as it is kept for a message.
    let mut current: Option<Vec<u8>> = None;
    loop {
        let chunk = read.fill_buf()?;
        if chunk.is_empty() {
            if let Some(line) = current.take() {
                banner.keep(&line);
            }
            return Ok(banner);
        }
        if current.is_none() {
            if chunk[0] == first || skipped >= MAX_BANNER {
                return Ok(banner);
            }
            current = Some(Vec::new());
        }
        let (part, end) = match chunk.iter().position(|&b| b == b'\n') {
            Some(i) => (&chunk[..i], i + 1),
            None => (chunk, chunk.len()),
        };
        let line = current.as_mut().expect("set above");
        line.extend_from_slice(&part[..part.len().min(MAX_QUOTED_LINE.saturating_sub(line.len()))]);
        let ended = end > part.len();
        read.consume(end);
        skipped += end;
        if ended {
            banner.keep(&current.take().unwrap_or_default());
        }
    }
}

impl Banner {
    fn keep(&mut self, line: &[u8]) {
        if line.iter().all(u8::is_ascii_whitespace) {
            return;
        }
        self.count += 1;
        if self.lines.len() < QUOTED {
            let text = String::from_utf8_lossy(line);
            self.lines.push(text.trim_end_matches('\r').to_string());
        }
    }
}

/// The hello exchange over a stream that may start with a banner. With a
/// banner and no hello after it, the error names the banner's lines.
pub fn open<R: Read, W: Write>(
    read: R,
    write: W,
    client: ClientId,
    read_only: bool,
    want: Want,
) -> Result<RunConnection<BufReader<R>, W>, ConnectionError> {
    let mut read = BufReader::new(read);
    let banner = skip(&mut read, b'{').map_err(ConnectionError::Io)?;
    session::open(read, write, client, read_only, want).map_err(|e| match e {
        ConnectionError::Closed if banner.count > 0 => ConnectionError::NoHello(format!(
            "the remote printed {} and then no traintop hello (a login script such as ~/.bashrc that prints \
             should print nothing when the shell is not interactive)",
            banner.describe()
        )),
        e => e,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::{ConnectionMessage, Hello, RecordRef, RunStatus};

    fn line(message: ConnectionMessage) -> Vec<u8> {
        serde_json::to_vec(&RecordRef::now(&message))
            .map(|mut l| {
                l.push(b'\n');
                l
            })
            .unwrap()
    }

    fn server_said(banner: &str) -> Vec<u8> {
        let mut bytes = banner.as_bytes().to_vec();
        bytes.extend(line(ConnectionMessage::Hello(Hello::ours())));
        bytes.extend(line(ConnectionMessage::Status(RunStatus { name: "digits".into(), ..Default::default() })));
        bytes
    }

    type Opened = Result<RunConnection<BufReader<io::Cursor<Vec<u8>>>, Vec<u8>>, ConnectionError>;

    fn open_over(bytes: Vec<u8>) -> Opened {
        open(io::Cursor::new(bytes), Vec::new(), ClientId::Dashboard, true, Want::Watch)
    }

    #[test]
    fn banner_lines_before_the_hello_are_skipped() {
        let s = open_over(server_said("Welcome to gpu1\n\nhello from .bashrc\n  {not json\n")).unwrap();
        assert_eq!(s.status.name, "digits");
        assert_eq!(s.hello, Hello::ours());
        // Without a banner, nothing changes.
        assert!(open_over(server_said("")).is_ok());
    }

    #[test]
    fn a_banner_and_no_hello_names_the_lines() {
        let e = open_over(b"Welcome to gpu1\nlast login: today\n".to_vec()).err().unwrap().to_string();
        assert!(e.contains("\"Welcome to gpu1\", \"last login: today\""), "{e}");
        assert!(e.contains("no traintop hello"), "{e}");
        let many: String = (0..9).map(|i| format!("line {i}\n")).collect();
        let e = open_over(many.into_bytes()).err().unwrap().to_string();
        assert!(e.contains("\"line 4\" and 4 more lines"), "{e}");
        // Nothing at all is still "closed before its hello".
        assert!(matches!(open_over(vec![]), Err(ConnectionError::Closed)));
    }

    #[test]
    fn skip_leaves_the_first_line_of_the_protocol_unread() {
        let mut r = io::Cursor::new(b"motd\r\n[{\"a\":1}]\n".to_vec());
        let banner = skip(&mut r, b'[').unwrap();
        assert_eq!(banner, Banner { lines: vec!["motd".into()], count: 1 });
        let mut rest = String::new();
        r.read_to_string(&mut rest).unwrap();
        assert_eq!(rest, "[{\"a\":1}]\n");
    }
}
