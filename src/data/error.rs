//! The error every data loader returns: it always names the file (or
//! synthetic set) it came from, and the 1-based line when there is one.

use std::fmt;

/// A data set could not be loaded or generated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataError {
    /// The file as the user named it, or `synthetic:NAME`.
    pub file: String,
    /// 1-based line of a text file, when the problem is on one line.
    pub line: Option<usize>,
    pub message: String,
    /// The config key whose value the data does not match (`data.target`),
    /// so that the caller can point at the line that set it.
    pub key: Option<&'static str>,
}

impl DataError {
    pub fn new(file: impl Into<String>, message: impl Into<String>) -> Self {
        DataError { file: file.into(), line: None, message: message.into(), key: None }
    }

    pub fn at_line(file: impl Into<String>, line: usize, message: impl Into<String>) -> Self {
        DataError { file: file.into(), line: Some(line), message: message.into(), key: None }
    }

    /// This error is about the value of config key `key`.
    pub fn for_key(self, key: &'static str) -> Self {
        DataError { key: Some(key), ..self }
    }

    /// Bad data is bad input, which the CLI reports with exit status 2.
    pub fn exit_code(&self) -> i32 {
        2
    }
}

impl fmt::Display for DataError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(line) => write!(f, "{}:{}: {}", self.file, line, self.message),
            None => write!(f, "{}: {}", self.file, self.message),
        }
    }
}

impl std::error::Error for DataError {}

/// `io::Error`'s Display appends "(os error N)", which is noise to a user.
pub(crate) fn io_reason(err: &std::io::Error) -> String {
    let text = err.to_string();
    match text.find(" (os error ") {
        Some(cut) => text[..cut].to_string(),
        None => text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_names_file_and_line() {
        let e = DataError::at_line("data/x.csv", 17, "bad");
        assert_eq!(e.to_string(), "data/x.csv:17: bad");
        let e = DataError::new("data/x.csv", "bad");
        assert_eq!(e.to_string(), "data/x.csv: bad");
        assert_eq!(e.exit_code(), 2);
    }

    #[test]
    fn io_reason_drops_os_error_number() {
        let err = std::fs::read("/definitely/not/here").unwrap_err();
        assert_eq!(io_reason(&err), "No such file or directory");
    }
}
