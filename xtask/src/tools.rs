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

/// trunk, pinned: 0.22 needs a newer rustc than this machine's 1.95.
const TRUNK: &str = "0.21.14";

/// Binaryen's wasm-opt, from the npm registry's `binaryen` package (a Node build, installed in
/// seconds; building the `wasm-opt` crate takes 12–16 minutes). Debian's binaryen 108 emits
/// modules that Chromium refuses (`WebAssembly.Table.set(): Argument 1 is invalid`), found by the
/// browser test; 123 passes it. `frontend/Trunk.toml` names the same version.
const BINARYEN: &str = "123.0.0";
const WASM_OPT: &str = "123";

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
        probe: || exact_version("viceroy", VICEROY),
        // About 11 minutes on 2 cores, once per machine.
        install: |_| cargo_install(&["viceroy", "--version", VICEROY, "--locked"]),
    },
    Tool {
        name: "trunk",
        probe: || exact_version("trunk", TRUNK),
        // About 9 minutes on 2 cores, once per machine.
        install: |_| cargo_install(&["trunk", "--version", TRUNK, "--locked"]),
    },
    Tool {
        name: "wasm-bindgen",
        probe: wasm_bindgen,
        // Not `--locked`: its lock file pins a version the registry no longer has.
        install: |_| {
            let version = wasm_bindgen_version().map_err(anyhow::Error::msg)?;
            cargo_install(&["wasm-bindgen-cli", "--version", &version])
        },
    },
    Tool {
        name: "wasm-opt",
        probe: wasm_opt,
        install: |_| npm_install(&format!("binaryen@{BINARYEN}")),
    },
    Tool {
        name: "chromium",
        probe: chromedriver,
        install: |installer| installer.apt_install("chromium chromium-driver"),
    },
];

/// `Ok` when `program --version` prints `<name> <wanted>` (e.g. "viceroy 0.22.0").
fn exact_version(program: &str, wanted: &str) -> Result<String, String> {
    let version = cmd::output(Command::new(program).arg("--version")).ok_or("not installed")?;
    match version.split_whitespace().nth(1) {
        Some(v) if v == wanted => Ok(format!("{program} {v}")),
        Some(v) => Err(format!("{v} installed, {wanted} wanted")),
        None => Err(format!("unreadable version {version:?}")),
    }
}

fn cargo_install(args: &[&str]) -> anyhow::Result<()> {
    // From a neutral directory: the workspace's own config must not leak into the install.
    run(crate::cmd::cargo(["install"])
        .args(args)
        .current_dir(std::env::temp_dir()))
}

/// The wasm-bindgen version the frontend links (Cargo.lock): the CLI must be exactly it.
fn wasm_bindgen_version() -> Result<String, String> {
    let lock = std::fs::read_to_string(cmd::workspace_root().join("Cargo.lock"))
        .map_err(|e| format!("cannot read Cargo.lock: {e}"))?;
    let mut lines = lock.lines();
    while let Some(line) = lines.next() {
        if line == "name = \"wasm-bindgen\"" {
            let version = lines.next().unwrap_or_default();
            if let Some(v) = version.strip_prefix("version = \"") {
                return Ok(v.trim_end_matches('"').to_owned());
            }
        }
    }
    Err("wasm-bindgen is not in Cargo.lock".into())
}

fn wasm_bindgen() -> Result<String, String> {
    exact_version("wasm-bindgen", &wasm_bindgen_version()?)
}

/// Installs an npm package into the project's tool directory ([`cmd::npm_bin`]).
fn npm_install(package: &str) -> anyhow::Result<()> {
    let prefix = cmd::tools_dir();
    std::fs::create_dir_all(&prefix)?;
    run(Command::new("npm")
        .args(["install", "--no-audit", "--no-fund", "--prefix"])
        .arg(&prefix)
        .arg(package))
}

fn wasm_opt() -> Result<String, String> {
    // "wasm-opt version 123 (version_123)"; trunk (Trunk.toml) insists on the same version.
    let wasm_opt = cmd::npm_bin().join("wasm-opt");
    let version = cmd::output(Command::new(wasm_opt).arg("--version")).ok_or("not installed")?;
    match version.split_whitespace().nth(2) {
        Some(v) if v == WASM_OPT => Ok(format!("wasm-opt {v}")),
        Some(v) => Err(format!("{v} installed (first on PATH), {WASM_OPT} wanted")),
        None => Err(format!("unreadable version {version:?}")),
    }
}

fn chromedriver() -> Result<String, String> {
    let version =
        cmd::output(Command::new("chromedriver").arg("--version")).ok_or("not installed")?;
    cmd::output(Command::new("chromium").arg("--version")).ok_or("chromium not installed")?;
    // "ChromeDriver 142.0.7444.175 (…)"
    Ok(format!(
        "chromium + chromedriver {}",
        version.split_whitespace().nth(1).unwrap_or("?")
    ))
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
    /// Installs `packages` (space-separated).
    fn apt_install(&mut self, packages: &str) -> anyhow::Result<()> {
        if cmd::output(Command::new("apt-get").arg("--version")).is_none() {
            anyhow::bail!(
                "apt-get is not available; install `{packages}` with your system's package manager"
            );
        }
        if !self.apt_updated {
            run(&mut apt(["update"]))?;
            self.apt_updated = true;
        }
        run(apt(["install", "-y", "--no-install-recommends"]).args(packages.split_whitespace()))
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
