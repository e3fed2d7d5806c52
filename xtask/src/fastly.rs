//! `cargo xtask fastly`: what the Fastly CLI does with this project, offline.
//!
//! 1. `fastly compute build` packages the edge from `fastly.toml` (its `[scripts] build` runs the
//!    workspace's own `cargo build -p edge --profile edge --target wasm32-wasip1`).
//! 2. `fastly compute serve --skip-build --viceroy-path <the pinned Viceroy>` serves that package,
//!    starting Pushpin itself (`[local_server.pushpin]`), on free ports. It is tried with the
//!    installed Pushpin as the CLI configures it, and, if that Pushpin is older than 1.40, again
//!    through a small wrapper that adapts the CLI's config to it (the CLI writes a config for
//!    1.40's service names). Each attempt gets requests through the edge and at Pushpin, then
//!    everything is stopped.
//!
//! Every step prints what it saw and how long it took; docs/DEPLOY.md records a run. Deploying
//! (`fastly compute publish`) needs a Fastly account and the internet: not done here.

use std::io::{Read as _, Write as _};
use std::net::{TcpListener, TcpStream};
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use toolchain::Task;

use crate::steps::{Result, Step, Timings, human, show, target_dir, workspace_root};

/// The package `fastly compute build` writes (`name` in fastly.toml).
const PACKAGE: &str = "pkg/fanout-chat-edge.tar.gz";

/// How long `fastly compute serve` may take until the edge accepts connections. The CLI waits
/// for Pushpin to print "started" with no deadline of its own.
const READY_TIMEOUT: Duration = Duration::from_secs(30);

/// Adapts the Pushpin config the Fastly CLI writes (for Pushpin >= 1.40) to Debian's 1.36: the
/// older service names, zurl's sockets in the CLI's run directory (Debian's internal.conf points
/// at /var/run/zurl), no update check (offline). The same differences as `e2e/src/pushpin.rs`.
const PUSHPIN_1_36_WRAPPER: &str = r#"#!/bin/sh
# Written by `cargo xtask fastly` (xtask/src/fastly.rs): runs Pushpin < 1.40 with the config the
# Fastly CLI wrote for >= 1.40. The CLI runs it as: pushpin --config=FILE --verbose
set -eu
conf=
for arg; do case $arg in --config=*) conf=${arg#--config=} ;; esac; done
fixed="$conf.for-1.36"
sed -e 's/^services=connmgr,proxy,handler$/services=condure,zurl,pushpin-proxy,pushpin-handler/' \
    -e 's/^updates_check=report$/updates_check=off/' \
    -e '/^\[proxy\]$/a zurl_out_specs=ipc://{rundir}/{ipc_prefix}zurl-in\nzurl_out_stream_specs=ipc://{rundir}/{ipc_prefix}zurl-in-stream\nzurl_in_specs=ipc://{rundir}/{ipc_prefix}zurl-out' \
    "$conf" > "$fixed"
mkdir -p "$(sed -n 's/^rundir=//p' "$fixed")"
exec pushpin "--config=$fixed" --verbose
"#;

pub fn run() -> Result {
    println!(
        "cargo xtask fastly: tools for it (Fastly CLI from npm, Viceroy, Pushpin), then `fastly \
         compute build`, then `fastly compute serve --skip-build` with the pinned Viceroy: \
         requests through it, then stop"
    );
    let root = workspace_root();
    let mut timings = Timings::load();
    crate::tools::ensure(Task::Fastly, &mut timings)?;
    let fastly = toolchain::npm_bin(&root).join("fastly");

    let mut build = Command::new(&fastly);
    // --metadata-disable: the annotations need wasm-tools, which the CLI would download.
    build
        .args([
            "compute",
            "build",
            "--non-interactive",
            "--metadata-disable",
        ])
        .current_dir(&root);
    timings.run(
        Step::new("fastly compute build", build)
            .usually("usually 1–4 min the first time: it builds the edge's wasm"),
    )?;
    let package = root.join(PACKAGE);
    if !package.is_file() {
        return Err(format!(
            "`fastly compute build` succeeded but {} is missing",
            package.display()
        ));
    }
    println!("    package: {PACKAGE}, {} bytes", file_len(&package));

    let viceroy = on_path("viceroy").ok_or("viceroy is not on PATH after installing it")?;
    let dir = target_dir().join("xtask-fastly");
    std::fs::create_dir_all(&dir).map_err(|e| format!("create {}: {e}", dir.display()))?;

    let stock = serve(&root, &fastly, &viceroy, &dir, None, &mut timings)?;
    let pushpin = toolchain::pushpin_version();
    let outcome = match (stock, pushpin) {
        (Served::Answered, _) => Ok(()),
        (Served::NotReady(why), Some(version)) if version < (1, 40, 0) => {
            println!(
                "\n    With Pushpin {}.{}.{} as the CLI configures it: {why}. The CLI writes a \
                 config for Pushpin >= 1.40 (`services=connmgr,proxy,handler`); 1.36 does not \
                 start those services and never prints \"started\", which the CLI waits for \
                 without a deadline. Trying again through a wrapper that adapts the config \
                 (`--pushpin-path`).",
                version.0, version.1, version.2
            );
            let wrapper = dir.join("pushpin-for-1.36");
            write_executable(&wrapper, PUSHPIN_1_36_WRAPPER)?;
            match serve(&root, &fastly, &viceroy, &dir, Some(&wrapper), &mut timings)? {
                Served::Answered => Ok(()),
                Served::NotReady(why) => Err(format!(
                    "`fastly compute serve` did not serve, even with the wrapper: {why}"
                )),
            }
        }
        (Served::NotReady(why), _) => Err(format!("`fastly compute serve` did not serve: {why}")),
    };
    println!(
        "\nNot done here: `fastly compute publish` and everything else that talks to Fastly \
         (no account, no internet); see docs/DEPLOY.md."
    );
    outcome
}

/// How one `fastly compute serve` attempt went.
enum Served {
    /// The edge answered (what it answered is printed).
    Answered,
    /// The edge never accepted a connection: why.
    NotReady(String),
}

/// Runs `fastly compute serve` on free ports until the edge accepts connections (or not),
/// sends the requests, prints what came back, and stops it.
fn serve(
    root: &Path,
    fastly: &Path,
    viceroy: &Path,
    dir: &Path,
    pushpin_path: Option<&Path>,
    timings: &mut Timings,
) -> Result<Served> {
    let edge_port = free_port()?;
    let proxy_port = free_port()?;
    // The CLI's Pushpin also binds the three ports after the publish port (its ZeroMQ sockets).
    let publish_port = free_ports(4)?;
    let name = match pushpin_path {
        None => "fastly compute serve",
        Some(_) => "fastly compute serve (Pushpin wrapper)",
    };
    let log = dir.join(match pushpin_path {
        None => "serve.log",
        Some(_) => "serve-wrapped.log",
    });
    let mut cmd = Command::new(fastly);
    cmd.args([
        "compute",
        "serve",
        "--skip-build",
        "--non-interactive",
        "--verbose",
    ])
    .arg("--viceroy-path")
    .arg(viceroy)
    .args(["--addr", &format!("127.0.0.1:{edge_port}")])
    .args(["--pushpin-proxy-port", &proxy_port.to_string()])
    .args(["--pushpin-publish-port", &publish_port.to_string()]);
    if let Some(path) = pushpin_path {
        cmd.arg("--pushpin-path").arg(path);
    }
    // The edge reads its session secret from `SESSION_SECRET` (fastly.toml's secret store).
    cmd.env("SESSION_SECRET", random_hex(32)?)
        .current_dir(root)
        // Its own process group: one signal stops the CLI, Viceroy and Pushpin's services.
        .process_group(0)
        .stdin(Stdio::null());
    let file = std::fs::File::create(&log).map_err(|e| format!("create {}: {e}", log.display()))?;
    let err_file = file.try_clone().map_err(|e| e.to_string())?;
    cmd.stdout(file).stderr(err_file);

    println!(
        "\n==> {name}\n    $ {}\n    log: {}",
        show(&cmd),
        log.display()
    );
    let started = Instant::now();
    let mut child = cmd
        .spawn()
        .map_err(|e| format!("could not run `{}`: {e}", show(&cmd)))?;
    let ready = wait_ready(&mut child, edge_port);
    let served = match ready {
        Ok(()) => {
            println!(
                "    the edge accepts connections after {}",
                human(started.elapsed())
            );
            for (path, what) in [
                (
                    "/healthz",
                    "forwarded to the `origin` backend (none runs here)",
                ),
                (
                    "/api/rooms/lobby/events",
                    "a stream path without a session: refused at the edge",
                ),
            ] {
                let answer =
                    http_get(edge_port, path).unwrap_or_else(|e| format!("no answer ({e})"));
                println!("    GET {path} via the edge ({what}): {answer}");
            }
            let answer = http_get(proxy_port, "/").unwrap_or_else(|e| format!("no answer ({e})"));
            println!(
                "    GET / at the CLI's Pushpin (port {proxy_port}; its routes only have \
                 `id=origin`): {answer}"
            );
            Served::Answered
        }
        Err(why) => Served::NotReady(why),
    };
    let lines = pushpin_lines(&log);
    if !lines.is_empty() {
        println!("    Pushpin said:\n{lines}");
    }
    stop(&mut child);
    remove_pushpin_files(&log);
    timings.done(name, started);
    Ok(served)
}

/// Waits until the edge's port accepts a connection, the CLI exits, or [`READY_TIMEOUT`].
fn wait_ready(child: &mut Child, port: u16) -> std::result::Result<(), String> {
    let deadline = Instant::now() + READY_TIMEOUT;
    loop {
        if TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return Ok(());
        }
        if let Ok(Some(status)) = child.try_wait() {
            return Err(format!("the CLI exited ({status}) before serving"));
        }
        if Instant::now() >= deadline {
            return Err(format!(
                "nothing listened on the edge's port {port} within {}",
                human(READY_TIMEOUT)
            ));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// SIGINT to the whole process group (the CLI stops Viceroy and Pushpin and removes its
/// files), then SIGKILL if anything is left after 10 s.
fn stop(child: &mut Child) {
    let group = format!("-{}", child.id());
    let _ = Command::new("kill").args(["-INT", "--", &group]).status();
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    // Whatever is left of the group (Pushpin's services outlive a killed CLI).
    let _ = Command::new("kill")
        .args(["-KILL", "--", &group])
        .stderr(Stdio::null())
        .status();
    let _ = child.wait();
}

/// The CLI removes Pushpin's files in /tmp when it stops Pushpin, but not when it is stopped
/// while still waiting for Pushpin to start: remove what its log names (and the wrapper's copy).
fn remove_pushpin_files(log: &Path) {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    for label in [
        "Pushpin temporary runtime directory: ",
        "Pushpin conf file: ",
        "Pushpin routes file: ",
    ] {
        let Some(path) = text
            .lines()
            .find_map(|l| l.split_once(label).map(|(_, p)| p.trim()))
        else {
            continue;
        };
        let path = Path::new(path);
        if !path.starts_with(std::env::temp_dir()) {
            continue;
        }
        let _ = std::fs::remove_dir_all(path);
        let _ = std::fs::remove_file(path);
        let _ = std::fs::remove_file(format!("{}.for-1.36", path.display()));
    }
}

/// `GET path` over HTTP/1.1: the status line and the start of the body.
fn http_get(port: u16, path: &str) -> std::result::Result<String, String> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).map_err(|e| e.to_string())?;
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .map_err(|e| e.to_string())?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n"
    )
    .map_err(|e| e.to_string())?;
    let mut answer = Vec::new();
    // A read timeout still leaves what arrived.
    let _ = stream.read_to_end(&mut answer);
    let text = String::from_utf8_lossy(&answer);
    let status = text.lines().next().unwrap_or("").trim().to_owned();
    if status.is_empty() {
        return Err("empty answer".into());
    }
    let body: String = text
        .split_once("\r\n\r\n")
        .map(|(_, body)| body.trim().chars().take(160).collect())
        .unwrap_or_default();
    Ok(format!("{status} {body}"))
}

/// The CLI's `[Pushpin]` log lines (the runner's), indented.
fn pushpin_lines(log: &Path) -> String {
    std::fs::read_to_string(log)
        .unwrap_or_default()
        .lines()
        .filter(|line| line.contains("[Pushpin]") && !line.contains("DEBUG"))
        .map(|line| format!("      {line}"))
        .collect::<Vec<_>>()
        .join("\n")
}

fn free_port() -> Result<u16> {
    let listener = TcpListener::bind("127.0.0.1:0").map_err(|e| format!("no free port: {e}"))?;
    listener
        .local_addr()
        .map(|a| a.port())
        .map_err(|e| e.to_string())
}

/// The first of `n` consecutive free ports.
fn free_ports(n: u16) -> Result<u16> {
    for _ in 0..50 {
        let first = free_port()?;
        let Some(last) = first.checked_add(n - 1) else {
            continue;
        };
        let all_free = (first..=last).all(|p| TcpListener::bind(("127.0.0.1", p)).is_ok());
        if all_free {
            return Ok(first);
        }
    }
    Err(format!("found no {n} consecutive free ports"))
}

fn on_path(program: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(program))
        .find(|p| p.is_file())
}

fn random_hex(bytes: usize) -> Result<String> {
    let mut buf = vec![0u8; bytes];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut buf))
        .map_err(|e| format!("read /dev/urandom: {e}"))?;
    Ok(buf.iter().map(|b| format!("{b:02x}")).collect())
}

fn write_executable(path: &Path, text: &str) -> Result {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::write(path, text)
        .and_then(|()| std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)))
        .map_err(|e| format!("write {}: {e}", path.display()))
}

fn file_len(path: &Path) -> u64 {
    std::fs::metadata(path).map_or(0, |m| m.len())
}
