//! `[notify]`: the command run when a run finishes or pauses at the
//! divergence banner (`train/notify.rs` runs it). It comes from the config
//! given to `run`, else from the user's own config file
//! (`$XDG_CONFIG_HOME/traintop/config.toml`, else
//! `~/.config/traintop/config.toml`), never from a run folder: a folder may
//! come from anyone, and its config is not where commands are taken from.

use std::path::PathBuf;

use serde::Deserialize;

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct NotifySection {
    /// A `sh -c` command line; the event arrives as one JSON line on stdin.
    pub command: Option<String>,
}

/// The user's config file.
#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct UserConfig {
    notify: NotifySection,
}

/// Where the user's config file lives.
pub fn user_config_file() -> Option<PathBuf> {
    let base = std::env::var_os("XDG_CONFIG_HOME")
        .filter(|d| !d.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".config")))?;
    Some(base.join("traintop").join("config.toml"))
}

/// `[notify] command` of the user's config file (None when there is no file).
pub fn user_notify_command() -> Result<Option<String>, String> {
    let Some(path) = user_config_file() else { return Ok(None) };
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(format!("{}: {e}", path.display())),
    };
    let config: UserConfig = toml::from_str(&text)
        .map_err(|e| format!("{}: {} (expected: [notify] command = \"...\")", path.display(), e.message().trim()))?;
    Ok(config.notify.command)
}
