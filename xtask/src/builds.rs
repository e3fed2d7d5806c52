//! The builds several commands share, with what each usually costs on a fresh 2-core machine
//! (measured: README, *How long things take*). Later runs show this machine's own last time.

use std::process::Command;

use crate::steps::{Step, cargo, target_dir, workspace_root};

/// The edge's wasm, where Viceroy and the tests look for it
/// (`target/wasm32-wasip1/edge/edge.wasm`).
pub fn edge() -> Step {
    let cmd = cargo([
        "build",
        "-p",
        "edge",
        "--profile",
        "edge",
        "--target",
        "wasm32-wasip1",
    ]);
    Step::new("build edge wasm", cmd).usually("usually 1–2 min the first time")
}

/// The browser app into `frontend/dist` (served by the origin). `release`: size-optimised with
/// wasm-opt, as users get it (tests, benchmarks); otherwise a quicker debug build (dev).
/// `--offline`: trunk must use the wasm-bindgen and wasm-opt that `tools` installed, never
/// download its own.
pub fn frontend(release: bool) -> Step {
    let mut cmd = Command::new("trunk");
    cmd.arg("build")
        .current_dir(workspace_root().join("frontend"));
    if release {
        cmd.arg("--release");
        // trunk finds wasm-opt on PATH: the npm package's comes first.
        let path = std::env::var_os("PATH").unwrap_or_default();
        let npm_bin = toolchain::npm_bin(&workspace_root());
        let dirs = std::iter::once(npm_bin).chain(std::env::split_paths(&path));
        cmd.env(
            "PATH",
            std::env::join_paths(dirs).expect("PATH entries join"),
        );
    }
    cmd.arg("--offline");
    match release {
        true => {
            Step::new("build frontend (release)", cmd).usually("usually 4–6 min the first time")
        }
        false => Step::new("build frontend", cmd).usually("usually 2–4 min the first time"),
    }
}

/// Test or bench binaries (`cargo test|bench ARGS --no-run`), built as a step of their own so
/// that building and running are timed apart. Cargo builds the binaries of a package along with
/// its integration tests and benchmarks, so this builds e2e's `stack` binary too, with the same
/// features as the tests: building it on its own would compile the e2e crate a second time.
pub fn tests(cargo_args: &[&str]) -> Step {
    let mut cmd = cargo(cargo_args);
    cmd.arg("--no-run");
    Step::new("build tests", cmd).usually("usually 6–9 min the first time")
}

/// The `stack` binary of the e2e crate (the local stack, a PostgreSQL cluster for the tests, the
/// size report) with the origin: one cargo invocation, so shared dependencies are built once.
pub fn stack_and_origin() -> Step {
    let cmd = cargo([
        "build", "-p", "e2e", "--bin", "stack", "-p", "origin", "--bin", "origin",
    ]);
    Step::new("build origin", cmd).usually("usually 5–8 min the first time")
}

/// Runs the `stack` binary that cargo built with `profile` (`debug`, or `release` for benches).
pub fn stack(profile: &str, args: &[&str]) -> Command {
    let mut cmd = Command::new(target_dir().join(profile).join("stack"));
    cmd.args(args).current_dir(workspace_root());
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
