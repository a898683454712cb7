//! A one-node Slurm cluster for the duration of one test: munged with a
//! throwaway key, slurmctld and slurmd in the foreground on free loopback
//! ports, everything (config, state, spool, logs) in a temp folder, reached
//! through `SLURM_CONF`. Killed when the guard drops, on panics too.
//! Skipped (None) where slurm-wlm is not installed or the test is not root
//! (slurmd starts jobs as their user); `.ci/run` installs it.
#![allow(dead_code)]

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct Cluster {
    dir: tempfile::TempDir,
    children: Vec<Child>,
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn spawn(program: &str, args: &[&str], conf: &Path, log: &Path) -> Child {
    Command::new(program)
        .args(args)
        .env("SLURM_CONF", conf)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(log).unwrap())
        .spawn()
        .unwrap_or_else(|e| panic!("{program} starts: {e}"))
}

fn config(d: &Path, host: &str) -> String {
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    format!(
        "ClusterName=traintop\nSlurmctldHost={host}(127.0.0.1)\nSlurmUser=root\nSlurmctldPort={}\nSlurmdPort={}\n\
         AuthType=auth/munge\nAuthInfo=socket={d}/munge.sock\nStateSaveLocation={d}/state\nSlurmdSpoolDir={d}/spool\n\
         SlurmctldPidFile={d}/slurmctld.pid\nSlurmdPidFile={d}/slurmd.pid\nSlurmctldLogFile={d}/slurmctld.log\n\
         SlurmdLogFile={d}/slurmd.log\nProctrackType=proctrack/linuxproc\nTaskPlugin=task/none\n\
         JobAcctGatherType=jobacct_gather/none\nAccountingStorageType=accounting_storage/none\n\
         SchedulerType=sched/builtin\nSelectType=select/cons_tres\nSelectTypeParameters=CR_Core\nMpiDefault=none\n\
         ReturnToService=2\nKillWait=10\nNodeName={host} NodeAddr=127.0.0.1 CPUs={cpus} State=UNKNOWN\n\
         PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP\n",
        free_port(),
        free_port(),
        d = d.display()
    )
}

impl Cluster {
    pub fn start() -> Option<Cluster> {
        let installed =
            ["/usr/sbin/slurmctld", "/usr/sbin/slurmd", "/usr/sbin/munged"].iter().all(|p| Path::new(p).exists());
        let root =
            Command::new("id").arg("-u").output().is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0");
        if !installed || !root {
            eprintln!("skipped: slurm-wlm and munge are not installed, or not root");
            return None;
        }
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path().to_path_buf();
        let d = d.as_path();
        for sub in ["state", "spool"] {
            std::fs::create_dir(d.join(sub)).unwrap();
        }
        let key = d.join("munge.key");
        std::fs::write(&key, (0..1024).map(|i| (i * 7 + 13) as u8).collect::<Vec<u8>>()).unwrap();
        std::fs::set_permissions(&key, std::os::unix::fs::PermissionsExt::from_mode(0o400)).unwrap();
        let host =
            String::from_utf8_lossy(&Command::new("hostname").arg("-s").output().unwrap().stdout).trim().to_string();
        let conf = d.join("slurm.conf");
        std::fs::write(&conf, config(d, &host)).unwrap();
        let ds = |name: &str| d.join(name).display().to_string();
        let mut c = Cluster { children: vec![], dir };
        let munge_args = [
            "-F",
            "--force",
            "--key-file",
            &ds("munge.key"),
            "--socket",
            &ds("munge.sock"),
            "--pid-file",
            &ds("munged.pid"),
            "--seed-file",
            &ds("munge.seed"),
            "--log-file",
            &ds("munged.log"),
        ];
        c.children.push(spawn("/usr/sbin/munged", &munge_args, &conf, &d.join("munged.err")));
        c.wait_for("munged's socket", || d.join("munge.sock").exists());
        c.children.push(spawn("/usr/sbin/slurmctld", &["-D", "-i"], &conf, &d.join("slurmctld.err")));
        c.children.push(spawn("/usr/sbin/slurmd", &["-D", "-N", &host], &conf, &d.join("slurmd.err")));
        c.wait_for("the node to be idle", || {
            let out = Command::new("sinfo").args(["-h", "-o", "%T"]).env("SLURM_CONF", c.conf()).output();
            out.is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "idle")
        });
        Some(c)
    }

    fn wait_for(&self, what: &str, mut ready: impl FnMut() -> bool) {
        let start = Instant::now();
        while !ready() {
            assert!(start.elapsed() < Duration::from_secs(30), "slurm: no {what} after 30 s:\n{}", self.logs());
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// For `SLURM_CONF`.
    pub fn conf(&self) -> PathBuf {
        self.dir.path().join("slurm.conf")
    }

    /// `squeue`'s lines for every job, tasks one per line (`ID STATE`).
    pub fn queue(&self) -> String {
        let out =
            Command::new("squeue").args(["-h", "-r", "-o", "%i %T"]).env("SLURM_CONF", self.conf()).output().unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    pub fn scancel(&self, id: &str) {
        let out = Command::new("scancel").arg(id).env("SLURM_CONF", self.conf()).output().unwrap();
        assert!(out.status.success(), "scancel {id}: {}", String::from_utf8_lossy(&out.stderr));
    }

    pub fn logs(&self) -> String {
        ["munged.err", "munged.log", "slurmctld.err", "slurmctld.log", "slurmd.err", "slurmd.log"]
            .iter()
            .map(|f| format!("--- {f}\n{}", std::fs::read_to_string(self.dir.path().join(f)).unwrap_or_default()))
            .collect::<Vec<_>>()
            .join("\n")
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("{}", self.logs());
        }
        for c in self.children.iter_mut().rev() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}
