//! Installs the tools the stack needs, each only when it is missing or too old.
//!
//! A fresh CI machine has none of them; a developer's machine usually has all of them. Checking
//! first keeps a warm run at a few seconds: one line per tool, "present" or "installing".
//! Adding a tool (Viceroy, trunk, ...) is one more entry in [`TOOLS`].

use std::process::Command;

use anyhow::Context as _;

use crate::cmd;

/// Viceroy, pinned: newer releases may need a newer rustc than this machine's.
const VICEROY: &str = "0.22.0";

/// Oldest Pushpin the harness can configure (Debian 12 ships 1.36.0).
const PUSHPIN_MIN: (u32, u32, u32) = (1, 36, 0);

/// One installable tool.
struct Tool {
    name: &'static str,
    /// `Ok(label)` ("pushpin 1.36.0") when present and good enough; `Err(why)` otherwise.
    probe: fn() -> Result<String, String>,
    install: fn(&mut Installer) -> anyhow::Result<()>,
}

const TOOLS: &[Tool] = &[
    Tool {
        name: "rust target wasm32-wasip1",
        probe: || rust_target("wasm32-wasip1"),
        install: |_| rustup_target_add("wasm32-wasip1"),
    },
    Tool {
        name: "rust target wasm32-unknown-unknown",
        probe: || rust_target("wasm32-unknown-unknown"),
        install: |_| rustup_target_add("wasm32-unknown-unknown"),
    },
    Tool {
        name: "pushpin",
        probe: pushpin,
        install: |installer| installer.apt_install("pushpin"),
    },
    Tool {
        name: "postgresql",
        probe: postgresql,
        install: |installer| installer.apt_install("postgresql"),
    },
    Tool {
        name: "viceroy",
        probe: viceroy,
        // About 11 minutes on 2 cores, once per machine.
        install: |_| {
            run(
                crate::cmd::cargo(["install", "viceroy", "--version", VICEROY, "--locked"])
                    .current_dir(std::env::temp_dir()),
            )
        },
    },
];

fn viceroy() -> Result<String, String> {
    let version = cmd::output(Command::new("viceroy").arg("--version")).ok_or("not installed")?;
    // "viceroy 0.22.0"
    match version.split_whitespace().nth(1) {
        Some(v) if v == VICEROY => Ok(format!("viceroy {v}")),
        Some(v) => Err(format!("{v} installed, {VICEROY} wanted")),
        None => Err(format!("unreadable version {version:?}")),
    }
}

/// Makes sure every tool in [`TOOLS`] is present, installing what is not.
pub fn ensure() -> anyhow::Result<()> {
    println!("==> [tools] checking what is installed");
    let mut installer = Installer::default();
    for tool in TOOLS {
        match (tool.probe)() {
            Ok(label) => println!("{label}: present"),
            Err(why) => {
                println!("{}: {why}; installing …", tool.name);
                (tool.install)(&mut installer)
                    .with_context(|| format!("step `tools`: install {}", tool.name))?;
                match (tool.probe)() {
                    Ok(label) => println!("{label}: installed"),
                    Err(why) => {
                        anyhow::bail!(
                            "step `tools`: {} still unusable after install: {why}",
                            tool.name
                        )
                    }
                }
            }
        }
    }
    Ok(())
}

fn rust_target(target: &str) -> Result<String, String> {
    let installed = cmd::output(Command::new("rustup").args(["target", "list", "--installed"]))
        .ok_or("`rustup target list --installed` failed (is rustup installed?)")?;
    if installed.lines().any(|line| line.trim() == target) {
        Ok(format!("rust target {target}"))
    } else {
        Err("not installed".to_owned())
    }
}

fn rustup_target_add(target: &str) -> anyhow::Result<()> {
    run(Command::new("rustup").args(["target", "add", target]))
}

fn pushpin() -> Result<String, String> {
    let version = e2e::pushpin::installed_version().map_err(|_| "not installed".to_owned())?;
    let (major, minor, patch) = version;
    if version < PUSHPIN_MIN {
        let (a, b, c) = PUSHPIN_MIN;
        return Err(format!("{major}.{minor}.{patch} is older than {a}.{b}.{c}"));
    }
    Ok(format!("pushpin {major}.{minor}.{patch}"))
}

fn postgresql() -> Result<String, String> {
    // The harness needs the server programs; `psql` is optional (it talks over sqlx).
    let initdb = e2e::postgres::find_binary("initdb").map_err(|_| "not installed".to_owned())?;
    e2e::postgres::find_binary("postgres").map_err(|_| "server binary missing".to_owned())?;
    // "initdb (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)" -> "15.18"
    let version = cmd::output(Command::new(&initdb).arg("--version"))
        .and_then(|out| {
            out.split_whitespace()
                .find(|word| word.starts_with(|c: char| c.is_ascii_digit()))
                .map(str::to_owned)
        })
        .ok_or_else(|| format!("`{} --version` failed", initdb.display()))?;
    Ok(format!("postgresql {version}"))
}

/// Installs system packages with apt, running `apt-get update` at most once per run.
#[derive(Default)]
struct Installer {
    apt_updated: bool,
}

impl Installer {
    fn apt_install(&mut self, package: &str) -> anyhow::Result<()> {
        if cmd::output(Command::new("apt-get").arg("--version")).is_none() {
            anyhow::bail!(
                "apt-get is not available; install `{package}` with your system's package manager"
            );
        }
        if !self.apt_updated {
            run(&mut apt(["update"]))?;
            self.apt_updated = true;
        }
        run(&mut apt([
            "install",
            "-y",
            "--no-install-recommends",
            package,
        ]))
    }
}

/// `apt-get ARGS`, non-interactive, through `sudo` when we are not root.
fn apt<const N: usize>(args: [&str; N]) -> Command {
    let mut cmd = if nix::unistd::Uid::effective().is_root() {
        Command::new("apt-get")
    } else {
        let mut sudo = Command::new("sudo");
        // sudo drops most of the environment; pass the one variable apt needs explicitly.
        sudo.args(["env", "DEBIAN_FRONTEND=noninteractive", "apt-get"]);
        sudo
    };
    cmd.args(args).env("DEBIAN_FRONTEND", "noninteractive");
    cmd
}

/// Runs an installer command with inherited output; fails with the command line.
fn run(cmd: &mut Command) -> anyhow::Result<()> {
    let shown = cmd::show(cmd);
    println!("  $ {shown}");
    let status = cmd
        .status()
        .with_context(|| format!("could not run `{shown}`"))?;
    anyhow::ensure!(status.success(), "`{shown}` ended with {status}");
    Ok(())
}
