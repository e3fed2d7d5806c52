//! Running the steps of a command: each prints its name and what it runs, how long it took
//! last time on this machine (or, the first time, what it usually costs), and its elapsed time
//! when done. A step that fails names itself and its command.

use std::collections::BTreeMap;
use std::ffi::{OsStr, OsString};
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

/// What every step returns: `Err` is the message `cargo xtask` ends with.
pub type Result<T = ()> = std::result::Result<T, String>;

/// The workspace root: xtask lives in `<root>/xtask`.
pub fn workspace_root() -> PathBuf {
    let manifest_dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    manifest_dir
        .parent()
        .expect("xtask sits inside the workspace")
        .to_path_buf()
}

/// Cargo's build directory (`CARGO_TARGET_DIR` if set).
pub fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("target"))
}

/// The cargo that runs us (cargo sets `CARGO` for the programs it runs), so toolchain overrides
/// carry over.
pub fn cargo_program() -> OsString {
    std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into())
}

/// A `cargo` command run from the workspace root.
pub fn cargo<I, S>(args: I) -> Command
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let mut cmd = Command::new(cargo_program());
    cmd.args(args).current_dir(workspace_root());
    cmd
}

/// One command of a run, with a name to report it by.
pub struct Step {
    pub name: &'static str,
    /// What the step costs on a fresh machine, shown until this machine has its own figure;
    /// empty for steps that take seconds.
    pub usually: &'static str,
    pub cmd: Command,
}

impl Step {
    pub fn new(name: &'static str, cmd: Command) -> Step {
        Step {
            name,
            usually: "",
            cmd,
        }
    }

    pub fn usually(self, usually: &'static str) -> Step {
        Step { usually, ..self }
    }
}

/// How long each step took the last time it ran here (`target/xtask-timings`), so that the
/// estimate printed before a step is this machine's own.
pub struct Timings {
    path: PathBuf,
    last: BTreeMap<String, u64>,
}

impl Timings {
    pub fn load() -> Timings {
        let path = target_dir().join("xtask-timings");
        let last = std::fs::read_to_string(&path)
            .unwrap_or_default()
            .lines()
            .filter_map(|line| {
                let (secs, name) = line.split_once(' ')?;
                Some((name.to_owned(), secs.parse().ok()?))
            })
            .collect();
        Timings { path, last }
    }

    /// Runs one step with inherited output.
    pub fn run(&mut self, step: Step) -> Result {
        let Step {
            name,
            usually,
            mut cmd,
        } = step;
        let shown = show(&cmd);
        let estimate = match self.last.get(name) {
            Some(&secs) => format!(" (last time {})", human(Duration::from_secs(secs))),
            None if !usually.is_empty() => format!(" ({usually})"),
            None => String::new(),
        };
        println!("\n==> {name}{estimate}\n    $ {shown}");
        let started = Instant::now();
        let status = cmd
            .status()
            .map_err(|err| format!("step `{name}`: could not run `{shown}`: {err}"))?;
        if !status.success() {
            return Err(format!(
                "step `{name}` failed: `{shown}` ended with {status}"
            ));
        }
        self.done(name, started);
        Ok(())
    }

    /// Prints and records how long `name` took.
    pub fn done(&mut self, name: &str, started: Instant) {
        let took = started.elapsed();
        println!("    {name}: done in {}", human(took));
        self.last.insert(name.to_owned(), took.as_secs());
        let lines: String = self
            .last
            .iter()
            .map(|(name, secs)| format!("{secs} {name}\n"))
            .collect();
        // Only an estimate for next time: a read-only target/ must not fail the run.
        let _ =
            std::fs::create_dir_all(target_dir()).and_then(|()| std::fs::write(&self.path, lines));
    }
}

/// "850 ms", "12.4 s", "3 min 12 s".
pub fn human(d: Duration) -> String {
    match d.as_secs() {
        0 => format!("{} ms", d.as_millis()),
        1..60 => format!("{:.1} s", d.as_secs_f64()),
        secs => format!("{} min {} s", secs / 60, secs % 60),
    }
}

/// The command line as a human would type it (program name without its directory).
pub fn show(cmd: &Command) -> String {
    let program = std::path::Path::new(cmd.get_program())
        .file_name()
        .unwrap_or(cmd.get_program())
        .to_string_lossy()
        .into_owned();
    let envs = cmd.get_envs().filter_map(|(key, value)| {
        let key = key.to_string_lossy();
        // Only the settings a reader needs to rerun the step by hand.
        let wanted = key.starts_with("CHAOS_") || key == "PROPTEST_CASES";
        let value = value.filter(|_| wanted)?;
        Some(format!("{key}={}", value.to_string_lossy()))
    });
    envs.chain(std::iter::once(program))
        .chain(cmd.get_args().map(|a| a.to_string_lossy().into_owned()))
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_like_a_person_wrote_them() {
        assert_eq!(human(Duration::from_millis(850)), "850 ms");
        assert_eq!(human(Duration::from_millis(12_400)), "12.4 s");
        assert_eq!(human(Duration::from_secs(192)), "3 min 12 s");
    }

    #[test]
    fn commands_show_the_settings_needed_to_rerun_them() {
        let mut cmd = Command::new("/usr/bin/cargo");
        cmd.args(["test", "-p", "e2e"])
            .env("CHAOS_SEED", "7")
            .env("PATH", "/x");
        assert_eq!(show(&cmd), "CHAOS_SEED=7 cargo test -p e2e");
    }
}
