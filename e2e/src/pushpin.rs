//! A real Pushpin (the open-source core of Fastly Fanout) in a throwaway directory.
//!
//! We write a complete `pushpin.conf` instead of patching the stock one, because the stock one
//! puts three ZeroMQ sockets on fixed TCP ports (5560, 5562, 5563) and its runtime files under
//! `/var/run`: two Pushpins started from it cannot run side by side. Here every internal socket is
//! an `ipc://` file in the instance's own run directory, and only the two HTTP ports are TCP.

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus};
use std::sync::OnceLock;
use std::time::Duration;

use anyhow::Context as _;
use tempfile::TempDir;

use crate::process::{ChildGuard, Output};

/// How long Pushpin may take to answer after start. It usually needs well under a second.
const READY_TIMEOUT: Duration = Duration::from_secs(20);

/// What a Pushpin instance is wired to.
#[derive(Debug, Clone)]
pub struct PushpinOptions {
    /// Where Pushpin proxies every request to (the origin).
    pub origin: SocketAddr,
    /// More origins on the same route, after `origin`: Pushpin 1.36 tries a route's targets in
    /// order and moves to the next only when connecting fails (see [`routes`]).
    pub fallback_origins: Vec<SocketAddr>,
    /// Client port: browsers, tests and the edge connect here.
    pub http_port: u16,
    /// The publish API (`POST /publish/`), what the origin's `GRIP_URL` points at.
    pub publish_port: u16,
    /// Key Pushpin signs proxied requests with (`Grip-Sig`, HS256).
    pub sig_key: String,
    /// Issuer (`iss` claim) of those signatures.
    pub sig_iss: String,
    /// 2 = info: one line per request, which is what you want to read when a test fails; 3 adds
    /// Pushpin's debug lines (its publish queues, next-link fetches).
    pub log_level: u8,
}

impl PushpinOptions {
    /// Free ports, a random signing key, the issuer `pushpin`, and the log level from
    /// `E2E_PUSHPIN_LOG_LEVEL` (default 2).
    pub fn for_tests(origin: SocketAddr) -> PushpinOptions {
        let log_level = std::env::var("E2E_PUSHPIN_LOG_LEVEL")
            .ok()
            .and_then(|level| level.parse().ok())
            .unwrap_or(2);
        PushpinOptions {
            origin,
            fallback_origins: Vec::new(),
            http_port: crate::free_port(),
            publish_port: crate::free_port(),
            sig_key: crate::random_hex(16),
            sig_iss: "pushpin".to_owned(),
            log_level,
        }
    }
}

/// A running Pushpin; dropping it stops it and deletes its directory.
#[derive(Debug)]
pub struct Pushpin {
    // Declared first so it is dropped (stopped) before its directory is removed.
    child: Option<ChildGuard>,
    opts: PushpinOptions,
    dir: TempDir,
}

impl Pushpin {
    /// Writes the config into a fresh temp dir, starts Pushpin and returns once it answers on both
    /// ports.
    pub async fn start(opts: PushpinOptions) -> anyhow::Result<Pushpin> {
        let version = installed_version()?;
        let dir = tempfile::Builder::new()
            .prefix("e2e-pushpin-")
            .tempdir()
            .context("create Pushpin's temp dir")?;
        for sub in ["run", "log"] {
            std::fs::create_dir(dir.path().join(sub))?;
        }
        std::fs::write(dir.path().join("routes"), routes(&opts))?;
        std::fs::write(
            dir.path().join("pushpin.conf"),
            config(&opts, dir.path(), version),
        )?;

        let mut pushpin = Pushpin {
            child: None,
            opts,
            dir,
        };
        pushpin.spawn_and_wait().await?;
        Ok(pushpin)
    }

    /// `http://127.0.0.1:{http_port}`: where clients connect.
    pub fn client_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.opts.http_port)
    }

    /// `http://127.0.0.1:{publish_port}/`, in the form of a `GRIP_URL`: publishers POST to
    /// `{publish_url}publish/`.
    pub fn publish_url(&self) -> String {
        format!("http://127.0.0.1:{}/", self.opts.publish_port)
    }

    /// The key Pushpin signs proxied requests with.
    pub fn sig_key(&self) -> &str {
        &self.opts.sig_key
    }

    /// The issuer of those signatures.
    pub fn sig_iss(&self) -> &str {
        &self.opts.sig_iss
    }

    /// The process id of Pushpin's runner (`None` while it is stopped). Its services (condure,
    /// zurl, proxy, handler) are its children: benchmarks add up their CPU time and memory.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(ChildGuard::pid)
    }

    /// The options this instance was started with.
    pub fn options(&self) -> &PushpinOptions {
        &self.opts
    }

    /// Stops Pushpin and starts it again on the same ports. Every held connection (streams,
    /// WebSockets, long-polls) is cut, which is how tests simulate a Fanout hiccup.
    pub async fn restart(&mut self) -> anyhow::Result<()> {
        self.stop();
        self.spawn_and_wait().await
    }

    /// Stops Pushpin and leaves it stopped (an outage) until [`Pushpin::restart`].
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.stop();
        }
    }

    /// `kill -9` of every Pushpin process (a crash), leaving it down until
    /// [`Pushpin::restart`].
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill();
        }
    }

    /// The last lines of Pushpin's combined log (runner and all its services).
    pub fn log_tail(&self) -> String {
        crate::process::log_tail(&self.log_path(), 200)
    }

    /// Path of Pushpin's combined log file.
    pub fn log_path(&self) -> PathBuf {
        self.dir.path().join("pushpin.log")
    }

    /// Fails with the log tail if Pushpin has exited (it only should when stopped).
    pub fn ensure_running(&self) -> anyhow::Result<()> {
        match &self.child {
            Some(child) => child.ensure_running(),
            None => anyhow::bail!("Pushpin is not running"),
        }
    }

    /// Waits until Pushpin exits (it should not, unless stopped): lets `cargo xtask dev` notice
    /// when one of its processes dies.
    pub async fn exited(&self) -> ExitStatus {
        match &self.child {
            Some(child) => child.exited().await,
            None => std::future::pending().await,
        }
    }

    async fn spawn_and_wait(&mut self) -> anyhow::Result<()> {
        let mut cmd = Command::new("pushpin");
        cmd.arg(format!(
            "--config={}",
            self.dir.path().join("pushpin.conf").display()
        ))
        // All services log into the runner's stdout (our one log file), not into logdir.
        .arg("--merge-output")
        .current_dir(self.dir.path());
        self.child = Some(ChildGuard::spawn(
            "pushpin",
            cmd,
            Output::File(self.log_path()),
        )?);

        let http = reqwest::Client::builder()
            .no_proxy()
            .timeout(Duration::from_secs(2))
            .build()?;
        let publish = format!("{}publish/", self.publish_url());
        let client_addr = SocketAddr::from(([127, 0, 0, 1], self.opts.http_port));
        let child = self.child.as_ref().expect("just spawned");
        let rundir = self.dir.path().join("run");
        let (http, publish, rundir_ref) = (&http, &publish, &rundir);
        // Three things must hold, checked in order of how soon they come true:
        crate::wait_until("Pushpin to be ready", READY_TIMEOUT, move || async move {
            child.ensure_running()?;
            // 1. The handler answers publishes (an empty batch changes nothing).
            let published = http
                .post(publish.as_str())
                .header("Content-Type", "application/json")
                .body(r#"{"items":[]}"#)
                .send()
                .await
                .is_ok_and(|r| r.status() == reqwest::StatusCode::OK);
            // 2. The connection manager accepts clients.
            let accepting = published && tokio::net::TcpStream::connect(client_addr).await.is_ok();
            // 3. Pushpin's services have found each other (see `unconnected_sockets`).
            Ok(accepting && unconnected_sockets(rundir_ref).is_empty())
        })
        .await
        .map_err(|err| {
            anyhow::anyhow!(
                "{err:#}\ninternal sockets without their peers yet: {:?}\nPushpin config: {}\n\
                 last log lines:\n{}",
                unconnected_sockets(&rundir),
                self.dir.path().join("pushpin.conf").display(),
                self.log_tail()
            )
        })
    }
}

/// Internal ZeroMQ sockets in `rundir` that are bound but still lack the peer(s) they will have.
///
/// Pushpin's services (connection manager, zurl, proxy, handler) start in parallel and find each
/// other through `ipc://` sockets in the rundir. A service that connects before its peer has bound
/// is retried by ZeroMQ 100 ms later, so for a moment after both HTTP ports answer, the proxy may
/// not yet reach the handler: the first GRIP-held request then fails with 500. Seen in practice:
/// readiness must include "every internal socket is connected".
///
/// The kernel shows this in `/proc/net/unix`: a listening socket (flag `00010000`) and one
/// `CONNECTED` (state `03`) entry with the same path per accepted peer. Every bound socket needs one
/// peer, except those only outside publishers use; the connection manager's response and stream
/// sockets need two (proxy and handler). Verified on 1.36; on other versions an unexpected name
/// shows up in the timeout error.
fn unconnected_sockets(rundir: &Path) -> Vec<String> {
    /// Bound for publishers and monitoring tools, which may never come.
    const FOR_OUTSIDERS: &[&str] = &["push-in", "push-in-sub", "command", "stats"];
    /// Sockets that both the proxy and the handler connect to.
    const TWO_PEERS: &[&str] = &[
        "condure-in",
        "condure-out-stream",
        "connmgr-in",
        "connmgr-out-stream",
    ];

    let Ok(table) = std::fs::read_to_string("/proc/net/unix") else {
        return Vec::new(); // Not Linux: skip this check rather than never becoming ready.
    };
    let prefix = format!("{}/pushpin-", rundir.display());
    let mut listening = Vec::new();
    let mut connected: std::collections::HashMap<&str, usize> = Default::default();
    // Columns: Num RefCount Protocol Flags Type St Inode Path
    for line in table.lines().skip(1) {
        let cols: Vec<&str> = line.split_whitespace().collect();
        let (Some(flags), Some(state), Some(path)) = (cols.get(3), cols.get(5), cols.get(7)) else {
            continue;
        };
        let Some(name) = path.strip_prefix(prefix.as_str()) else {
            continue;
        };
        if *flags == "00010000" {
            listening.push(name);
        } else if *state == "03" {
            *connected.entry(name).or_default() += 1;
        }
    }
    listening
        .into_iter()
        .filter(|name| !FOR_OUTSIDERS.contains(name))
        .filter(|name| {
            let needed = if TWO_PEERS.contains(name) { 2 } else { 1 };
            connected.get(name).copied().unwrap_or(0) < needed
        })
        .map(str::to_owned)
        .collect()
}

/// The installed Pushpin's version as `(major, minor, patch)`, from `pushpin --version`.
pub fn installed_version() -> anyhow::Result<(u32, u32, u32)> {
    static VERSION: OnceLock<(u32, u32, u32)> = OnceLock::new();
    if let Some(v) = VERSION.get() {
        return Ok(*v);
    }
    let version = toolchain::pushpin_version().context(
        "`pushpin --version` failed (is Pushpin installed? `cargo xtask test` installs it)",
    )?;
    Ok(*VERSION.get_or_init(|| version))
}

/// One route for everything, to the origin (and its fallbacks), as WebSocket-over-HTTP.
///
/// Verified by hand on Pushpin 1.36 with curl: the single line `*,id=origin HOST:PORT,over_http`
/// serves both kinds of request. `*` matches requests without a `Pushpin-Route` header (tests
/// talking to Pushpin directly); `id=origin` is what `Pushpin-Route: origin` selects (the header
/// Viceroy sends for `handoff_fanout("origin")`, honoured because of `accept_pushpin_route=true`).
/// A line with only `id=origin` would answer header-less requests with 502 "No route for host",
/// and a `Pushpin-Route` naming an unknown id gets the same 502.
///
/// Each of [`PushpinOptions::fallback_origins`] is one more target on the same line. Pushpin
/// 1.36 does not balance between targets: every request goes to the first, and to the next only
/// when connecting fails (refused, timed out, TLS: `tryNextTarget` in `src/proxy/proxysession.cpp`
/// and `wsproxysession.cpp`). Next-link fetches take the same route, so they fail over too. A
/// request the target accepted and then dropped is answered 502, not retried elsewhere; a
/// WebSocket keeps the target it opened on, and when that one dies Pushpin retries it for
/// 31–36 s (`websocketoverhttp.cpp`) before it drops the client, whose next connection fails over.
///
/// Public so that `e2e/tests/compose.rs` can hold `deploy/pushpin/routes` to it.
pub fn routes(opts: &PushpinOptions) -> String {
    let mut line = format!("*,id=origin {},over_http", opts.origin);
    for fallback in &opts.fallback_origins {
        let _ = write!(line, " {fallback},over_http");
    }
    format!("# Generated by the e2e harness; see e2e/src/pushpin.rs.\n{line}\n")
}

/// The whole `pushpin.conf` for one instance living in `dir`. Public so that
/// `e2e/tests/compose.rs` can hold `deploy/pushpin/pushpin.conf` to it.
pub fn config(opts: &PushpinOptions, dir: &Path, version: (u32, u32, u32)) -> String {
    let dir = dir.display();
    let mut conf = format!(
        r#"# Generated by the e2e harness (e2e/src/pushpin.rs) for Pushpin {}.{}.{}.
[global]
# Socket names and file locations every service agrees on ({{libdir}} is filled in by Pushpin).
include={{libdir}}/internal.conf
rundir={dir}/run
ipc_prefix=pushpin-
port_offset=0
stats_connection_ttl=120

[runner]
"#,
        version.0, version.1, version.2
    );
    if version >= (1, 40, 0) {
        // UNTESTED: only Debian's 1.36 is installable on the project's machines (no registry
        // ships a newer Pushpin), so no test has run this branch against a real Pushpin >= 1.40;
        // `config_differs_by_version` only checks the text. The names follow the config the
        // Fastly CLI 16.1 writes for >= 1.40 (`services=connmgr,proxy,handler`).
        // 1.40 renamed the services (condure became connmgr) and lets connmgr make the outgoing
        // requests itself, so zurl is neither listed nor needed.
        conf.push_str("services=connmgr,proxy,handler\n");
    } else {
        // Before 1.40, zurl makes the outgoing requests. It must be listed so that the runner
        // starts its own zurl with sockets in our rundir.
        conf.push_str("services=condure,zurl,pushpin-proxy,pushpin-handler\n");
    }
    let _ = write!(
        conf,
        r#"# Loopback only: tests need no outside access.
http_port=127.0.0.1:{http_port}
logdir={dir}/log
# 2 = info: one line per request; 3 = debug (publish queues, next-link fetches).
log_level={log_level}
client_buffer_size=8192
client_maxconn=50000

[proxy]
routesfile={dir}/routes
# Informative 502 bodies ("Unable to connect to any targets ...") make failing tests readable.
debug=true
auto_cross_origin=false
accept_x_forwarded_protocol=false
set_x_forwarded_protocol=proto-only
x_forwarded_for=
x_forwarded_for_trusted=
orig_headers_need_mark=
# The edge hands off with `Pushpin-Route: origin`.
accept_pushpin_route=true
log_from=false
log_user_agent=false
# Proxied requests carry `Grip-Sig`, a JWT signed with this key, so the origin can tell requests
# that came through Pushpin (Fanout) from direct ones.
sig_iss={sig_iss}
sig_key={sig_key}
upstream_key=
# No internet here, and tests must not phone home anyway.
updates_check=off
organization_name=
"#,
        http_port = opts.http_port,
        log_level = opts.log_level,
        sig_iss = opts.sig_iss,
        sig_key = opts.sig_key,
    );
    if version < (1, 40, 0) {
        // Debian's 1.36 internal.conf points the proxy at a system zurl under /var/run/zurl, not
        // at the one the runner starts in our rundir; without these every proxied request fails
        // with "-> 127.0.0.1:PORT error". 1.40's internal.conf already says this.
        conf.push_str(
            "zurl_out_specs=ipc://{rundir}/{ipc_prefix}zurl-in\n\
             zurl_out_stream_specs=ipc://{rundir}/{ipc_prefix}zurl-in-stream\n\
             zurl_in_specs=ipc://{rundir}/{ipc_prefix}zurl-out\n",
        );
    }
    let _ = write!(
        conf,
        r#"
[handler]
# The stock config binds these on TCP 5560, 5562 and 5563; as ipc files in our own rundir, any
# number of Pushpins can run at once.
push_in_spec=ipc://{{rundir}}/{{ipc_prefix}}push-in
push_in_sub_specs=ipc://{{rundir}}/{{ipc_prefix}}push-in-sub
push_in_sub_connect=false
command_spec=ipc://{{rundir}}/{{ipc_prefix}}command
stats_spec=ipc://{{rundir}}/{{ipc_prefix}}stats
push_in_http_addr=127.0.0.1
push_in_http_port={publish_port}
push_in_http_max_headers_size=10000
# Fanout accepts 64 KiB per message; batches of several must fit too.
push_in_http_max_body_size=1000000
# The stock 2,500 messages/s would throttle load tests long before the app does.
message_rate=100000
message_hwm=200000
message_wait=5000
id_cache_ttl=60
connection_subscription_max=20
subscription_linger=60
stats_subscription_ttl=60
stats_report_interval=10
stats_format=tnetstring
"#,
        publish_port = opts.publish_port,
    );
    conf
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_differs_by_version() {
        let opts = PushpinOptions::for_tests("127.0.0.1:8080".parse().unwrap());
        let old = config(&opts, Path::new("/x"), (1, 36, 0));
        assert!(old.contains("services=condure,zurl,pushpin-proxy,pushpin-handler"));
        assert!(old.contains("zurl_in_specs=ipc://{rundir}/{ipc_prefix}zurl-out"));
        let new = config(&opts, Path::new("/x"), (1, 40, 1));
        assert!(new.contains("services=connmgr,proxy,handler"));
        assert!(!new.contains("zurl_in_specs"));
        for conf in [old, new] {
            assert!(!conf.contains("tcp://"), "no fixed internal TCP ports");
            assert!(conf.contains(&format!("sig_key={}", opts.sig_key)));
        }
    }
}
