//! A log's torn tail: a crash (or a full disk) in the middle of a write can
//! leave a last line without its newline. Appending to it would glue the
//! next record onto it and lose both, so a writer cuts the file back to its
//! last newline first.

use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;

/// How far back a chunk of the search reads.
const CHUNK: u64 = 64 << 10;

/// Cuts `file` back to just after its last newline (to empty when it has
/// none); returns how many bytes were cut. The file must be open for reading.
pub fn trim_torn_tail(file: &File) -> io::Result<u64> {
    let len = file.metadata()?.len();
    let mut end = len;
    let mut buf = vec![0u8; CHUNK as usize];
    while end > 0 {
        let start = end.saturating_sub(CHUNK);
        let chunk = &mut buf[..(end - start) as usize];
        file.read_exact_at(chunk, start)?;
        if let Some(i) = chunk.iter().rposition(|&b| b == b'\n') {
            let keep = start + i as u64 + 1;
            if keep < len {
                file.set_len(keep)?;
            }
            return Ok(len - keep);
        }
        end = start;
    }
    if len > 0 {
        file.set_len(0)?;
    }
    Ok(len)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn trimmed(text: &[u8]) -> (Vec<u8>, u64) {
        let mut f = tempfile::tempfile().unwrap();
        f.write_all(text).unwrap();
        let cut = trim_torn_tail(&f).unwrap();
        let mut back = vec![0; f.metadata().unwrap().len() as usize];
        f.read_exact_at(&mut back, 0).unwrap();
        (back, cut)
    }

    #[test]
    fn cuts_back_to_the_last_newline() {
        assert_eq!(trimmed(b"{\"a\":1}\n{\"b\""), (b"{\"a\":1}\n".to_vec(), 4));
        assert_eq!(trimmed(b"{\"a\":1}\n"), (b"{\"a\":1}\n".to_vec(), 0));
        assert_eq!(trimmed(b"half"), (vec![], 4));
        assert_eq!(trimmed(b""), (vec![], 0));
    }

    #[test]
    fn finds_a_newline_more_than_a_chunk_back() {
        let mut text = b"x\n".to_vec();
        text.extend(std::iter::repeat_n(b'y', 3 * CHUNK as usize));
        assert_eq!(trimmed(&text), (b"x\n".to_vec(), 3 * CHUNK));
    }
}
