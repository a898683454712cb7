//! What a client may ask of a run, and who asked. Commands take effect at the
//! next batch boundary; each one is answered by an `Accepted` or `Rejected`
//! event that names its sender, so the event log says who did what.

use std::fmt;

use serde::{Deserialize, Serialize};

/// What a client asks a run to do (not a subcommand, not a process). On the wire: `{"command": "toggle", "technique":
/// "dropout", "enabled": true}`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "command", rename_all = "snake_case")]
pub enum RunCommand {
    Pause,
    Resume,
    /// Train one batch while paused.
    StepOnce,
    /// Finish the current step, checkpoint, write the summary, end.
    Stop,
    Checkpoint,
    SetLearningRate {
        lr: f32,
    },
    /// Switch a technique on or off.
    Toggle {
        technique: String,
        enabled: bool,
    },
    /// Set a technique's parameter; the value is checked against its range.
    SetParam {
        technique: String,
        param: String,
        value: String,
    },
    /// Fork the run at this step (since 1.3): branch A switches the
    /// technique, branch B goes on without the change; both train on the
    /// same batches until one is kept.
    Fork {
        technique: String,
        enabled: bool,
    },
    /// End a fork, keeping one branch (since 1.3).
    Keep {
        branch: ForkBranch,
    },
    /// A command from a newer protocol minor version: refused, by name
    /// unknown.
    #[serde(other)]
    Unknown,
}

impl RunCommand {
    /// A short description for logs: "pause", "dropout on", "lr=0.01".
    pub fn label(&self) -> String {
        match self {
            RunCommand::Pause => "pause".into(),
            RunCommand::Resume => "resume".into(),
            RunCommand::StepOnce => "step once".into(),
            RunCommand::Stop => "stop".into(),
            RunCommand::Checkpoint => "checkpoint".into(),
            RunCommand::SetLearningRate { lr } => format!("lr={lr}"),
            RunCommand::Toggle { technique, enabled } => format!("{technique} {}", if *enabled { "on" } else { "off" }),
            RunCommand::SetParam { technique, param, value } => format!("{technique}.{param}={value}"),
            RunCommand::Fork { technique, enabled } => {
                format!("fork: A {technique} {}, B as before", if *enabled { "on" } else { "off" })
            }
            RunCommand::Keep { branch } => format!("kept {}", branch.letter()),
            RunCommand::Unknown => "unknown command".into(),
        }
    }
}

impl RunCommand {
    /// The length (characters) of the longest text the command carries: a
    /// technique, a parameter, a value.
    pub fn longest_text(&self) -> usize {
        self.texts().map(|t| t.chars().count()).max().unwrap_or(0)
    }

    /// The command with every text cut to `chars` characters (`…` marking a
    /// cut), for echoing a refused one without echoing all of it.
    pub fn shortened(&self, chars: usize) -> RunCommand {
        let mut short = self.clone();
        for text in short.texts_mut() {
            if text.chars().count() > chars {
                *text = text.chars().take(chars.saturating_sub(1)).chain(['…']).collect();
            }
        }
        short
    }

    fn texts(&self) -> impl Iterator<Item = &String> {
        let (a, b, c) = match self {
            RunCommand::Toggle { technique, .. } | RunCommand::Fork { technique, .. } => (Some(technique), None, None),
            RunCommand::SetParam { technique, param, value } => (Some(technique), Some(param), Some(value)),
            _ => (None, None, None),
        };
        [a, b, c].into_iter().flatten()
    }

    fn texts_mut(&mut self) -> impl Iterator<Item = &mut String> {
        let (a, b, c) = match self {
            RunCommand::Toggle { technique, .. } | RunCommand::Fork { technique, .. } => (Some(technique), None, None),
            RunCommand::SetParam { technique, param, value } => (Some(technique), Some(param), Some(value)),
            _ => (None, None, None),
        };
        [a, b, c].into_iter().flatten()
    }
}

/// One branch of a fork: A has the change, B goes on as before.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ForkBranch {
    A,
    B,
}

impl ForkBranch {
    pub fn letter(self) -> &'static str {
        match self {
            ForkBranch::A => "A",
            ForkBranch::B => "B",
        }
    }
}

/// Who sent a command.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ClientId {
    /// The dashboard in the terminal that started the run.
    Dashboard,
    /// A process on this machine (e.g. `traintop attach`): its pid and, when
    /// it has one, its terminal.
    Local {
        pid: u32,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        tty: Option<String>,
    },
    /// A client that came in over ssh, named by the host it came from.
    Ssh { host: String },
    /// A program driving the run (tests, scripts).
    Script { name: String },
    /// A sender kind from a newer protocol minor version.
    #[serde(other)]
    Unknown,
}

impl fmt::Display for ClientId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ClientId::Dashboard => f.write_str("the dashboard"),
            ClientId::Local { pid, tty: Some(tty) } => write!(f, "pid {pid} on {tty}"),
            ClientId::Local { pid, tty: None } => write!(f, "pid {pid}"),
            ClientId::Ssh { host } => write!(f, "ssh from {host}"),
            ClientId::Script { name } => write!(f, "{name}"),
            ClientId::Unknown => f.write_str("an unknown client"),
        }
    }
}

/// A command and its sender: what a client sends. On the wire:
/// `{"from": {"kind": "dashboard"}, "command": "pause"}`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Request {
    pub from: ClientId,
    #[serde(flatten)]
    pub command: RunCommand,
}

impl Request {
    pub fn new(from: ClientId, command: RunCommand) -> Self {
        Self { from, command }
    }

    /// A chart marker's label for what this request did: `what`, and who
    /// asked unless it was the run's own dashboard, e.g.
    /// `dropout on · ssh from 10.0.0.7`.
    pub fn marker(&self, what: String) -> String {
        match &self.from {
            ClientId::Dashboard => what,
            from => format!("{what} · {from}"),
        }
    }

    /// A command from the run's own dashboard.
    pub fn dashboard(command: RunCommand) -> Self {
        Self::new(ClientId::Dashboard, command)
    }
}
