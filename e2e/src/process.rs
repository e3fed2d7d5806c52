//! `ChildGuard`: a child process that logs to a file and is reliably stopped, even if we crash.
//!
//! Three things make "reliably" true:
//! - The child runs in its own process group, so one signal reaches everything it forks (PostgreSQL
//!   backends, for example) and a Ctrl-C in the terminal does not hit it before we are ready.
//! - `PR_SET_PDEATHSIG(SIGTERM)`: if the test process dies (even by SIGKILL), the kernel sends the
//!   child SIGTERM, so no Pushpin or PostgreSQL is left running after an aborted `cargo test`.
//! - On drop we send the stop signal, wait up to [`STOP_TIMEOUT`], then SIGKILL the group and any
//!   descendant that moved to a group of its own (Pushpin's runner does that for its services).

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Condvar, Mutex, OnceLock};
use std::time::Duration;

use anyhow::Context as _;
use nix::errno::Errno;
use nix::sys::signal::{Signal, kill, killpg};
use nix::unistd::Pid;

/// How long a child gets to stop after the stop signal before it is killed.
pub const STOP_TIMEOUT: Duration = Duration::from_secs(5);

/// Where a child's stdout and stderr go.
#[derive(Debug, Clone)]
pub enum Output {
    /// Both streams appended to this file; [`ChildGuard::log_tail`] reads it back.
    File(PathBuf),
    /// Shared with our own stdout/stderr (for `cargo xtask dev`, where a human reads the logs).
    Inherit,
}

/// A running child process, stopped when dropped. See the module docs.
#[derive(Debug)]
pub struct ChildGuard {
    name: String,
    pid: Pid,
    output: Output,
    stop_signal: Signal,
    exit: Arc<ExitState>,
    stopped: bool,
}

/// The child's exit status, filled in by the thread that waits for it.
///
/// It is published twice: a condition variable for the blocking wait in `Drop`, and a watch
/// channel for async callers of [`ChildGuard::exited`].
#[derive(Debug)]
struct ExitState {
    status: Mutex<Option<ExitStatus>>,
    changed: Condvar,
    watch: tokio::sync::watch::Sender<Option<ExitStatus>>,
}

impl ChildGuard {
    /// Starts `cmd` in its own process group with its output going to `output`.
    ///
    /// `name` only appears in messages. The child gets SIGTERM when it is time to stop; use
    /// [`ChildGuard::with_stop_signal`] for programs that want another signal.
    pub fn spawn(name: &str, mut cmd: Command, output: Output) -> anyhow::Result<ChildGuard> {
        match &output {
            Output::File(path) => {
                let log = OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(path)
                    .with_context(|| format!("open log file {}", path.display()))?;
                cmd.stdout(log.try_clone()?).stderr(log);
            }
            Output::Inherit => {
                cmd.stdout(Stdio::inherit()).stderr(Stdio::inherit());
            }
        }
        cmd.stdin(Stdio::null()).process_group(0);
        die_with_parent(&mut cmd);

        let program = cmd.get_program().to_string_lossy().into_owned();
        let mut child = spawn_from_long_lived_thread(cmd)
            .with_context(|| format!("start {name} ({program})"))?;
        let pid = Pid::from_raw(child.id() as i32);

        let (watch, _) = tokio::sync::watch::channel(None);
        let exit = Arc::new(ExitState {
            status: Mutex::new(None),
            changed: Condvar::new(),
            watch,
        });
        // A thread that owns the `Child` and blocks in wait(2). Signals go by pid instead, so
        // nothing has to poll `try_wait`, and the pid stays ours (unreaped) until it has exited.
        let state = Arc::clone(&exit);
        std::thread::Builder::new()
            .name(format!("wait-{name}"))
            .spawn(move || {
                let status = child.wait().unwrap_or_else(|_| ExitStatus::from_raw(-1));
                *state.status.lock().expect("exit state lock") = Some(status);
                state.changed.notify_all();
                state.watch.send_replace(Some(status));
            })
            .context("spawn waiter thread")?;

        Ok(ChildGuard {
            name: name.to_owned(),
            pid,
            output,
            stop_signal: Signal::SIGTERM,
            exit,
            stopped: false,
        })
    }

    /// Uses `signal` instead of SIGTERM to ask the child to stop (PostgreSQL: SIGQUIT means
    /// "immediate shutdown", what `pg_ctl stop -m immediate` sends).
    pub fn with_stop_signal(mut self, signal: Signal) -> ChildGuard {
        self.stop_signal = signal;
        self
    }

    /// The child's process id, which is also its process group id.
    pub fn pid(&self) -> u32 {
        self.pid.as_raw() as u32
    }

    /// The log file, when output goes to one.
    pub fn log_path(&self) -> Option<&Path> {
        match &self.output {
            Output::File(path) => Some(path),
            Output::Inherit => None,
        }
    }

    /// The exit status if the child has exited, without waiting.
    pub fn status(&self) -> Option<ExitStatus> {
        *self.exit.status.lock().expect("exit state lock")
    }

    /// Waits until the child exits (on its own or because it was stopped).
    pub async fn exited(&self) -> ExitStatus {
        let mut rx = self.exit.watch.subscribe();
        let status = rx
            .wait_for(Option::is_some)
            .await
            .expect("the sender lives in self");
        status.expect("wait_for returned a Some")
    }

    /// Fails with the log tail if the child has already exited; for readiness loops, so a crash
    /// is reported at once instead of after the whole timeout.
    pub fn ensure_running(&self) -> anyhow::Result<()> {
        match self.status() {
            None => Ok(()),
            Some(status) => anyhow::bail!(
                "{} exited early ({status}); last log lines:\n{}",
                self.name,
                self.log_tail()
            ),
        }
    }

    /// Waits until `GET url` answers 2xx (the child serves), failing at once if the child exits
    /// and with its log tail on timeout.
    pub async fn wait_until_serving(&self, url: &str, timeout: Duration) -> anyhow::Result<()> {
        let http = reqwest::Client::new();
        crate::wait_until(&format!("{} to answer {url}", self.name), timeout, || {
            let request = http.get(url).send();
            let running = self.ensure_running();
            async move {
                running?;
                Ok(request.await.is_ok_and(|r| r.status().is_success()))
            }
        })
        .await
        .with_context(|| format!("{} log:\n{}", self.name, self.log_tail()))
    }

    /// The last lines of the child's log (about 40), for error messages.
    pub fn log_tail(&self) -> String {
        match &self.output {
            Output::File(path) => log_tail(path, 40),
            Output::Inherit => "(output went to the terminal)".to_owned(),
        }
    }

    /// `kill -9`: SIGKILL to the child and everything it started, at once, with no chance to
    /// clean up (a crash, for the chaos tests); returns once the child has exited.
    pub fn kill(&mut self) {
        self.stop_with(false);
    }

    /// Stops the child now: the stop signal to its process group, up to [`STOP_TIMEOUT`] to exit,
    /// then SIGKILL. Calling it again does nothing; `Drop` calls it too.
    pub fn stop(&mut self) {
        self.stop_with(true);
    }

    fn stop_with(&mut self, gently: bool) {
        if self.stopped {
            return;
        }
        self.stopped = true;
        // Collected before signalling: once the leader is gone, its children are re-parented and
        // can no longer be found from its pid.
        let descendants = descendants(self.pid);
        if gently && self.status().is_none() {
            signal_group(self.pid, self.stop_signal);
            if !self.wait_timeout(STOP_TIMEOUT) {
                eprintln!(
                    "e2e: {} did not stop within {STOP_TIMEOUT:?}; killing it. Last log lines:\n{}",
                    self.name,
                    self.log_tail()
                );
                signal_group(self.pid, Signal::SIGKILL);
                self.wait_timeout(STOP_TIMEOUT);
            }
        }
        // Whatever the leader did, nothing it started may outlive it.
        signal_group(self.pid, Signal::SIGKILL);
        for (pid, started) in descendants {
            if start_time(pid) == Some(started) {
                let _ = kill(pid, Signal::SIGKILL);
            }
        }
        self.wait_timeout(STOP_TIMEOUT);
    }

    /// Blocks until the child has exited or `timeout` passed; true if it exited.
    fn wait_timeout(&self, timeout: Duration) -> bool {
        let guard = self.exit.status.lock().expect("exit state lock");
        let (guard, _) = self
            .exit
            .changed
            .wait_timeout_while(guard, timeout, |status| status.is_none())
            .expect("exit state lock");
        guard.is_some()
    }
}

impl Drop for ChildGuard {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Sends `signal` to the process group `pgid`; a group that is already gone is fine.
fn signal_group(pgid: Pid, signal: Signal) {
    match killpg(pgid, signal) {
        Ok(()) | Err(Errno::ESRCH) => {}
        Err(err) => eprintln!("e2e: killpg({pgid}, {signal}) failed: {err}"),
    }
}

/// Makes the kernel send SIGTERM to the child when the thread that spawned it ends.
///
/// The kernel ties PR_SET_PDEATHSIG to the spawning *thread*, not the process. That is why
/// [`spawn_from_long_lived_thread`] exists: spawned from a test thread or a tokio blocking thread,
/// a Pushpin shared by several tests would be killed as soon as that one thread finished.
#[allow(unsafe_code)]
fn die_with_parent(cmd: &mut Command) {
    let parent = nix::unistd::getpid();
    // SAFETY: the closure runs in the forked child between fork and exec. It only makes two system
    // calls (prctl, getppid), both async-signal-safe, and neither allocates nor takes locks.
    // `pre_exec` closures run after the uid/gid switch that `Command::uid` performs, which matters
    // because changing credentials clears the parent-death signal.
    unsafe {
        cmd.pre_exec(move || {
            nix::sys::prctl::set_pdeathsig(Signal::SIGTERM)?;
            // If our process died between fork and prctl, the signal was never sent: stop here.
            if nix::unistd::getppid() != parent {
                return Err(io::Error::other("parent exited during spawn"));
            }
            Ok(())
        });
    }
}

type SpawnJob = (Command, mpsc::Sender<io::Result<Child>>);

/// Spawns `cmd` from one thread that lives as long as the process (see [`die_with_parent`]).
fn spawn_from_long_lived_thread(cmd: Command) -> io::Result<Child> {
    static SPAWNER: OnceLock<mpsc::Sender<SpawnJob>> = OnceLock::new();
    let spawner = SPAWNER.get_or_init(|| {
        let (tx, rx) = mpsc::channel::<SpawnJob>();
        std::thread::Builder::new()
            .name("e2e-spawner".into())
            .spawn(move || {
                for (mut cmd, reply) in rx {
                    let _ = reply.send(cmd.spawn());
                }
            })
            .expect("spawn the e2e-spawner thread");
        tx
    });
    let (reply, answer) = mpsc::channel();
    spawner
        .send((cmd, reply))
        .map_err(|_| io::Error::other("e2e-spawner thread is gone"))?;
    answer
        .recv()
        .map_err(|_| io::Error::other("e2e-spawner thread is gone"))?
}

/// All descendants of `root` with their start times (to recognise them later despite pid reuse).
fn descendants(root: Pid) -> Vec<(Pid, u64)> {
    let mut children: HashMap<i32, Vec<(i32, u64)>> = HashMap::new();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    for entry in entries.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<i32>().ok())
        else {
            continue;
        };
        if let Some((ppid, started)) = stat_fields(Pid::from_raw(pid)) {
            children.entry(ppid).or_default().push((pid, started));
        }
    }
    let mut found = Vec::new();
    let mut queue = vec![root.as_raw()];
    while let Some(parent) = queue.pop() {
        for &(pid, started) in children.get(&parent).into_iter().flatten() {
            found.push((Pid::from_raw(pid), started));
            queue.push(pid);
        }
    }
    found
}

fn start_time(pid: Pid) -> Option<u64> {
    stat_fields(pid).map(|(_, started)| started)
}

/// Parent pid and start time (in clock ticks since boot) from `/proc/<pid>/stat`.
fn stat_fields(pid: Pid) -> Option<(i32, u64)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) is in parentheses and may itself contain spaces or ')'.
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // `rest` starts at field 3 (state): ppid is field 4, starttime field 22.
    let ppid = fields.get(1)?.parse().ok()?;
    let started = fields.get(19)?.parse().ok()?;
    Some((ppid, started))
}

/// The last `lines` lines of the file at `path`, reading at most its last 64 KiB.
pub fn log_tail(path: &Path, lines: usize) -> String {
    const MAX: u64 = 64 * 1024;
    let read = || -> io::Result<String> {
        let mut file = File::open(path)?;
        let len = file.metadata()?.len();
        file.seek(SeekFrom::Start(len.saturating_sub(MAX)))?;
        let mut buf = Vec::new();
        file.read_to_end(&mut buf)?;
        Ok(String::from_utf8_lossy(&buf).into_owned())
    };
    match read() {
        Ok(text) => {
            let all: Vec<&str> = text.lines().collect();
            all[all.len().saturating_sub(lines)..].join("\n")
        }
        Err(err) => format!("(cannot read {}: {err})", path.display()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shell(script: &str) -> Command {
        let mut cmd = Command::new("sh");
        cmd.arg("-c").arg(script);
        cmd
    }

    #[tokio::test]
    async fn output_goes_to_the_log_and_exit_is_seen() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("child.log");
        let child = ChildGuard::spawn(
            "echo",
            shell("echo hello; echo oops >&2; exit 3"),
            Output::File(log),
        )
        .unwrap();
        let status = child.exited().await;
        assert_eq!(status.code(), Some(3));
        assert_eq!(child.log_tail(), "hello\noops");
        assert!(child.ensure_running().is_err());
    }

    #[tokio::test]
    async fn drop_stops_the_whole_tree_even_when_it_ignores_sigterm() {
        let dir = tempfile::tempdir().unwrap();
        // A grandchild in a process group of its own that ignores SIGTERM: the harshest case,
        // like Pushpin's services if their runner hung.
        let script = "setsid sh -c 'trap \"\" TERM; echo $$ > grandchild.pid; exec sleep 600' & \
                      wait";
        let mut cmd = shell(script);
        cmd.current_dir(dir.path());
        let mut child =
            ChildGuard::spawn("tree", cmd, Output::File(dir.path().join("log"))).unwrap();
        let pid_file = dir.path().join("grandchild.pid");
        crate::wait_until("grandchild pid file", Duration::from_secs(5), || async {
            Ok(std::fs::read_to_string(&pid_file).is_ok_and(|s| s.ends_with('\n')))
        })
        .await
        .unwrap();
        let grandchild: i32 = std::fs::read_to_string(&pid_file)
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        // The shell is waiting for its child and gets SIGTERM promptly, so this is quick; the
        // grandchild is then found among the recorded descendants and killed.
        child.stop();
        assert!(child.status().is_some());
        // SIGKILL is delivered asynchronously, and a killed process may linger as a zombie until
        // init reaps it; either way it no longer runs.
        crate::wait_until("grandchild to die", Duration::from_secs(5), || async {
            let stat =
                std::fs::read_to_string(format!("/proc/{grandchild}/stat")).unwrap_or_default();
            let state = stat.rsplit(')').next().unwrap_or("").trim_start();
            Ok(state.is_empty() || state.starts_with('Z'))
        })
        .await
        .unwrap();
    }
}
