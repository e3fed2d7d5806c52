//! Small helpers for running commands: the workspace root, the right `cargo`, and named steps.

use std::ffi::OsStr;
use std::path::PathBuf;
use std::process::Command;

use anyhow::Context as _;

/// The workspace root: xtask lives in `<root>/xtask`.
pub fn workspace_root() -> PathBuf {
    let manifest_dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    manifest_dir
        .parent()
        .expect("xtask sits inside the workspace")
        .to_path_buf()
}

/// Where `cargo xtask` installs tools from the npm registry (`npm install --prefix`): inside
/// `target/`, so that they go with the build and never touch the system.
pub fn tools_dir() -> PathBuf {
    workspace_root().join("target/tools")
}

/// The programs those packages provide.
pub fn npm_bin() -> PathBuf {
    tools_dir().join("node_modules/.bin")
}

/// `PATH` with [`npm_bin`] first, for commands that look tools up there (trunk: wasm-opt).
pub fn path_with_tools() -> std::ffi::OsString {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let dirs = std::iter::once(npm_bin()).chain(std::env::split_paths(&path));
    std::env::join_paths(dirs).expect("PATH entries join")
}

/// A `cargo` command run from the workspace root, using the same cargo that runs us (cargo sets
/// `CARGO` for the programs it runs), so toolchain overrides carry over.
pub fn cargo<I, S>(args: I) -> Command
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.args(args).current_dir(workspace_root());
    cmd
}

/// Builds the edge's wasm where Viceroy and the tests look for it
/// (`target/wasm32-wasip1/edge/edge.wasm`).
pub fn build_edge() -> Command {
    cargo([
        "build",
        "-p",
        "edge",
        "--profile",
        "edge",
        "--target",
        "wasm32-wasip1",
    ])
}

/// The browser app's release build into `frontend/dist` (served by the origin). `--offline`:
/// trunk must use the wasm-bindgen and wasm-opt that `tools` installed, never download its own.
pub fn build_frontend() -> Command {
    let mut cmd = Command::new("trunk");
    cmd.args(["build", "--release", "--offline"])
        .current_dir(workspace_root().join("frontend"))
        .env("PATH", path_with_tools());
    cmd
}

/// Makes `cargo test|bench --target wasm32-wasip1` run its wasm binaries inside Viceroy (the
/// Compute runtime; Fastly's documented way to test Compute code), with the test manifest
/// `edge/fastly.test.toml` (a known session secret, an origin nobody listens on).
pub fn in_viceroy(mut cmd: Command) -> Command {
    let manifest = workspace_root().join("edge/fastly.test.toml");
    cmd.env(
        "CARGO_TARGET_WASM32_WASIP1_RUNNER",
        format!("viceroy run -C {} --", manifest.display()),
    );
    cmd
}

/// Runs one named step with inherited output; fails naming the step and the command.
pub async fn step(name: &str, cmd: Command) -> anyhow::Result<()> {
    let shown = show(&cmd);
    println!("\n==> [{name}] {shown}");
    let status = tokio::process::Command::from(cmd)
        .status()
        .await
        .with_context(|| format!("step `{name}`: could not run `{shown}`"))?;
    if !status.success() {
        anyhow::bail!("step `{name}` failed: `{shown}` ended with {status}");
    }
    Ok(())
}

/// Runs `cmd` and returns its stdout if it succeeded, `None` if it failed or could not start.
/// For probing what is installed.
pub fn output(cmd: &mut Command) -> Option<String> {
    let out = cmd.output().ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

/// The command line as a human would type it (program name without its directory).
pub fn show(cmd: &Command) -> String {
    let program = std::path::Path::new(cmd.get_program())
        .file_name()
        .unwrap_or(cmd.get_program())
        .to_string_lossy()
        .into_owned();
    std::iter::once(program)
        .chain(cmd.get_args().map(|a| a.to_string_lossy().into_owned()))
        .collect::<Vec<_>>()
        .join(" ")
}
