//! `traintop attach`: a dashboard on a run that is already going, on this
//! machine (through its socket) or on another one (`--ssh HOST`, through
//! `ssh HOST traintop attach --stdio`). `--stdio` is that far end.

use std::io::BufReader;
use std::io::{BufRead, IsTerminal, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{ChildStdin, ChildStdout};
use std::sync::mpsc::{Receiver, Sender};
use std::sync::{Arc, Mutex};

use super::shared_args::ScreenArgs;
use super::signals;
use super::ExitError;
use crate::client::find::{self, FindError, RunEntry};
use crate::client::session::{self, local_client, ConnectionError, RunConnection};
use crate::client::ssh::SshLink;
use crate::client::stream::Retried;
use crate::client::{banner, stdio, stream};
use crate::protocol::{ClientId, LinkWatch, Request, RunStatus, StreamItem, Want};
use crate::tui::{load_baseline, DashboardOptions, Exit};

/// `traintop attach`'s options.
#[derive(Clone, Debug, Default)]
pub struct AttachOptions {
    pub run: Option<String>,
    pub read_only: bool,
    pub stdio: bool,
    pub ssh: Option<String>,
    pub no_color: bool,
    pub mouse: bool,
    pub refresh_ms: u64,
    /// A finished run folder to draw behind the live curves.
    pub baseline: Option<PathBuf>,
}

/// `traintop attach`'s arguments.
#[derive(clap::Args, Debug)]
pub struct AttachArgs {
    run: Option<String>,
    /// Watch without steering: keys that would change the run say so.
    #[arg(long)]
    read_only: bool,
    /// A run on another machine: runs `ssh HOST traintop attach --stdio RUN`
    /// and speaks the run protocol over ssh's pipe (no port is opened).
    /// TRAINTOP_SSH replaces the ssh command line, TRAINTOP_REMOTE the
    /// remote traintop.
    #[arg(long, value_name = "[USER@]HOST")]
    ssh: Option<String>,
    /// Relay the run protocol between stdin/stdout and the run's socket
    /// (what `attach --ssh` runs on the far side).
    #[arg(long, conflicts_with = "ssh")]
    stdio: bool,
    /// Draw this finished run folder's loss and accuracy curves behind the
    /// live run's (b in the dashboard shows or hides them).
    #[arg(long, value_name = "RUN_DIR", conflicts_with = "stdio")]
    baseline: Option<PathBuf>,
    #[command(flatten)]
    screen: ScreenArgs,
}

impl AttachArgs {
    /// `traintop attach`.
    pub fn call(self) -> Result<(), ExitError> {
        let Self { run, read_only, ssh, stdio, baseline, screen } = self;
        let (no_color, mouse, refresh_ms) = (screen.no_color, screen.mouse, screen.refresh_ms);
        attach(&AttachOptions { run, read_only, stdio, ssh, no_color, mouse, refresh_ms, baseline })
    }
}

/// A dashboard on the run `opts` names, or (`--stdio`) the relay for one.
pub fn attach(opts: &AttachOptions) -> Result<(), ExitError> {
    if opts.stdio {
        return stdio::relay(opts.run.as_deref()).map_err(ExitError::input);
    }
    let flags = signals::install()?;
    dashboard(opts, &flags)
}

/// The dashboard on the run `opts` names, until it is left.
pub fn dashboard(opts: &AttachOptions, flags: &signals::Flags) -> Result<(), ExitError> {
    // Read first: a bad folder is an error before any connection is made.
    let baseline = opts.baseline.as_deref().map(load_baseline).transpose().map_err(ExitError::input)?;
    let (link, linked) = match &opts.ssh {
        Some(host) => over_ssh(host, opts)?,
        None => {
            let entry = pick(opts.run.as_deref())?;
            (None, here(&entry.socket, &entry.run_dir, local_client(), opts.read_only)?)
        }
    };
    let Linked { events, requests, status, watch } = linked;
    let mut options = DashboardOptions::new(&status.name, opts.refresh_ms, opts.mouse, opts.no_color)
        .attached(opts.read_only)
        .quit_on(&flags.any)
        .with_baseline(baseline)
        .watching(watch);
    options.ring_after = status.step;
    let exit = crate::tui::run_dashboard(options, events, requests)
        .map_err(|e| ExitError::runtime(anyhow::anyhow!("dashboard: {e}")))?;
    // Closing the link ends ssh and keeps it from opening again.
    if let Some(slot) = link {
        slot.lock().unwrap_or_else(|e| e.into_inner()).take();
    }
    report(exit, &status, opts.ssh.as_deref());
    Ok(())
}

/// What the user sees after the dashboard closed.
pub fn report(exit: Exit, status: &RunStatus, host: Option<&str>) {
    let again = match host {
        Some(h) => format!("traintop attach --ssh {h} {}", status.run_dir),
        None => format!("traintop attach {}", status.run_dir),
    };
    if exit == Exit::Detached {
        println!("detached; the run goes on ({again})");
    }
}

/// A dashboard's link to its run: the run's events, where requests go, the
/// run's status when it connected, and how the link stands.
pub struct Linked {
    pub events: Receiver<StreamItem>,
    pub requests: Sender<Request>,
    pub status: RunStatus,
    pub watch: Arc<LinkWatch>,
}

/// The ssh process of a dashboard's link, replaced when it reconnects;
/// `None` once the dashboard has closed it.
type SharedLink = Arc<Mutex<Option<SshLink>>>;
/// A dashboard's link over ssh: the ssh process (kept for its lifetime) and the stream.
type SshStream = (Option<SharedLink>, Linked);
type SshConnection = RunConnection<BufReader<ChildStdout>, ChildStdin>;

/// Connects a dashboard to the run served on `socket`; reconnects after a
/// cut.
pub fn here(socket: &Path, run_dir: &Path, client: ClientId, read_only: bool) -> Result<Linked, ExitError> {
    let first = open_local(socket, run_dir, &client, read_only).map_err(ExitError::runtime_msg)?;
    let status = first.status.clone();
    let (socket, folder) = (socket.to_path_buf(), run_dir.to_path_buf());
    let reconnect: stream::Reconnect<_, _> = Box::new(move || match open_local(&socket, &folder, &client, read_only) {
        Ok(again) => Retried::Back(Box::new(again)),
        Err(_) => Retried::NotYet,
    });
    let folder = run_dir.to_path_buf();
    let last_word: stream::LastWord = Box::new(move || crate::client::ended_run::finished_records(&folder));
    let watch = Arc::new(LinkWatch::default());
    let retry = stream::Retry { give_up_after: Some(stream::LOCAL_RECONNECT), watch: Arc::clone(&watch) };
    let (events, requests) = stream::spawn(first, reconnect, retry, Some(last_word));
    Ok(Linked { events, requests, status, watch })
}

fn open_local(
    socket: &Path,
    run_dir: &Path,
    client: &ClientId,
    read_only: bool,
) -> Result<RunConnection<UnixStream, UnixStream>, String> {
    let stream = UnixStream::connect(socket).map_err(|e| format!("{}: {e}", socket.display()))?;
    let write = stream.try_clone().map_err(|e| e.to_string())?;
    session::open(stream, write, client.clone(), read_only, Want::Watch).map_err(|e| match e {
        ConnectionError::Closed => format!("{}: the run closed the connection", run_dir.display()),
        e => e.to_string(),
    })
}

fn over_ssh(host: &str, opts: &AttachOptions) -> Result<SshStream, ExitError> {
    let (link, session) = open_ssh(host, opts.run.as_deref(), opts.read_only).map_err(|e| match e {
        SshOpenError::Refused(m) => ExitError::input(format!("{host}: {m}")),
        SshOpenError::Failed(m) => ExitError::runtime_msg(m),
    })?;
    let status = session.status.clone();
    let slot: SharedLink = Arc::new(Mutex::new(Some(link)));
    // A cut link (a stalled connection the run cut off, a relay gone) opens
    // again to the same run folder, as a local client's socket does; once
    // the dashboard has closed the link, it stays closed.
    let (again, host, run_dir, read_only) =
        (Arc::clone(&slot), host.to_string(), status.run_dir.clone(), opts.read_only);
    let reconnect: stream::Reconnect<_, _> = Box::new(move || {
        let mut link = again.lock().unwrap_or_else(|e| e.into_inner());
        if link.is_none() {
            return Retried::Never("the dashboard closed the link".into());
        }
        match open_ssh(&host, Some(&run_dir), read_only) {
            Ok((new_link, session)) => {
                *link = Some(new_link);
                Retried::Back(Box::new(session))
            }
            Err(SshOpenError::Refused(why)) => Retried::Never(format!("{host}: {why}")),
            Err(SshOpenError::Failed(_)) => Retried::NotYet,
        }
    });
    // An ssh link may be down for minutes (a laptop asleep, a VPN): the
    // dashboard keeps trying, saying so, until it is closed.
    let watch = Arc::new(LinkWatch::default());
    let retry = stream::Retry { give_up_after: None, watch: Arc::clone(&watch) };
    let (events, requests) = stream::spawn(session, reconnect, retry, None);
    Ok((Some(slot), Linked { events, requests, status, watch }))
}

enum SshOpenError {
    /// The far side answered no (no such run, another protocol version).
    Refused(String),
    /// ssh or the link failed.
    Failed(String),
}

/// `ssh HOST traintop attach --stdio [RUN]` and the protocol's handshake.
fn open_ssh(host: &str, run: Option<&str>, read_only: bool) -> Result<(SshLink, SshConnection), SshOpenError> {
    let mut args = vec!["attach", "--stdio"];
    args.extend(run);
    let (mut link, out, inp) = SshLink::open(host, &args).map_err(SshOpenError::Failed)?;
    // A remote's login script may print before traintop speaks.
    match banner::open(out, inp, local_client(), read_only, Want::Watch) {
        Ok(s) => Ok((link, s)),
        Err(ConnectionError::Refused(m) | ConnectionError::Protocol(m)) => Err(SshOpenError::Refused(m)),
        Err(e) => Err(SshOpenError::Failed(link.failure(&e.to_string()))),
    }
}

/// The run to attach to; with several live and none named, the user picks
/// from a list (when there is a terminal to ask on).
fn pick(what: Option<&str>) -> Result<RunEntry, ExitError> {
    match find::find(what) {
        Ok(e) => Ok(e),
        Err(FindError::Several(list)) if std::io::stdin().is_terminal() => choose(list),
        Err(e) => Err(ExitError::input(e.to_string().trim_end().to_string())),
    }
}

fn choose(list: Vec<RunEntry>) -> Result<RunEntry, ExitError> {
    let mut err = std::io::stderr();
    let _ = writeln!(err, "{} live runs:", list.len());
    for (i, e) in list.iter().enumerate() {
        let step = e.status.as_ref().map(|s| format!("step {}", s.step)).unwrap_or_default();
        let _ = writeln!(err, "  {}) {}  {}  {}  {}", i + 1, e.folder_name(), e.state, step, e.run_dir.display());
    }
    let _ = write!(err, "attach to which (1-{})? ", list.len());
    let _ = err.flush();
    let mut answer = String::new();
    let _ = std::io::stdin().lock().read_line(&mut answer);
    match answer.trim().parse::<usize>() {
        Ok(n) if (1..=list.len()).contains(&n) => Ok(list.into_iter().nth(n - 1).expect("in range")),
        _ => Err(ExitError::input(format!("no run chosen (answer a number from 1 to {})", list.len()))),
    }
}
