//! A real, throwaway PostgreSQL cluster, and fresh databases on it for each test.
//!
//! The cluster lives in a temp dir, listens on a free port on 127.0.0.1 and trades durability for
//! speed (`fsync=off` and friends): a crash loses nothing a test cares about. PostgreSQL refuses to
//! run as root, so when we are root (containers, CI) it runs as the system user `pg`.
//!
//! The postmaster runs in the foreground as a [`ChildGuard`] rather than daemonised by
//! `pg_ctl start`: that way the parent-death signal reaches it, and a killed `cargo test` does not
//! leave clusters behind. Stopping sends SIGQUIT, which is exactly `pg_ctl stop -m immediate`.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;
use std::time::Duration;

use anyhow::Context as _;
use nix::sys::signal::Signal;
use nix::unistd::{Gid, Uid, User};
use sqlx::Connection as _;
use tempfile::TempDir;

use crate::process::{ChildGuard, Output};

/// Environment variable through which `cargo xtask test` shares one cluster with all tests.
pub const ADMIN_URL_ENV: &str = "E2E_POSTGRES_ADMIN_URL";

/// The unprivileged user PostgreSQL runs as when we are root.
const SERVICE_USER: &str = "pg";

/// How long the postmaster may take to accept queries; typically well under a second.
const READY_TIMEOUT: Duration = Duration::from_secs(30);

/// A running PostgreSQL cluster; dropping it stops the server and deletes all its files.
#[derive(Debug)]
pub struct Postgres {
    // Declared first so the server stops before its data directory is deleted.
    child: ChildGuard,
    port: u16,
    dir: TempDir,
}

impl Postgres {
    /// Creates a cluster with `initdb` in a fresh temp dir and starts it on a free port. Returns
    /// once it answers `select 1`.
    pub async fn start() -> anyhow::Result<Postgres> {
        let initdb = find_binary("initdb")?;
        let postgres = find_binary("postgres")?;
        let owner = service_user()?;

        let dir = tempfile::Builder::new()
            .prefix("e2e-postgres-")
            .tempdir()
            .context("create PostgreSQL's temp dir")?;
        let sockets = dir.path().join("sockets");
        std::fs::create_dir(&sockets)?;
        if let Some((uid, gid)) = owner {
            for path in [dir.path(), &sockets] {
                std::os::unix::fs::chown(path, Some(uid.as_raw()), Some(gid.as_raw()))
                    .with_context(|| format!("chown {} to {SERVICE_USER}", path.display()))?;
            }
        }

        let data = dir.path().join("data");
        let mut cmd = tokio::process::Command::new(&initdb);
        cmd.arg("--pgdata")
            .arg(&data)
            .args(["--auth=trust", "--username=postgres", "--encoding=UTF8"])
            // The C locale keeps sorting identical on every machine and needs no locale installed.
            .args(["--locale=C", "--no-sync", "--no-instructions"])
            .current_dir(dir.path());
        if let Some((uid, gid)) = owner {
            cmd.uid(uid.as_raw()).gid(gid.as_raw());
        }
        let out = cmd
            .output()
            .await
            .with_context(|| format!("run {}", initdb.display()))?;
        if !out.status.success() {
            anyhow::bail!(
                "initdb failed ({}):\n{}{}",
                out.status,
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }

        // The port was free a moment ago; if someone took it meanwhile, try another one.
        let mut attempt = 1;
        loop {
            let port = crate::free_port();
            match start_server(&postgres, owner, dir.path(), &sockets, port).await {
                Ok(child) => return Ok(Postgres { child, port, dir }),
                Err(err) if attempt < 3 && format!("{err:#}").contains("already in use") => {
                    attempt += 1;
                }
                Err(err) => return Err(err),
            }
        }
    }

    /// `postgres://postgres@127.0.0.1:PORT/postgres`: superuser, no password (trust).
    pub fn admin_url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    /// The TCP port the server listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The last lines of the server log.
    pub fn log_tail(&self) -> String {
        self.child.log_tail()
    }

    /// The cluster's directory (data, sockets and log).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }
}

/// Runs the postmaster in the foreground and waits until it answers queries.
async fn start_server(
    postgres: &Path,
    owner: Option<(Uid, Gid)>,
    dir: &Path,
    sockets: &Path,
    port: u16,
) -> anyhow::Result<ChildGuard> {
    use std::os::unix::process::CommandExt as _;

    let mut cmd = Command::new(postgres);
    cmd.arg("-D")
        .arg(dir.join("data"))
        .arg("-p")
        .arg(port.to_string())
        // Unix sockets in our own dir: the default /var/run/postgresql may not exist or be ours.
        .arg("-k")
        .arg(sockets)
        .args(["-c", "listen_addresses=127.0.0.1"])
        // Durability off: a test database never has to survive a power cut.
        .args(["-c", "fsync=off"])
        .args(["-c", "synchronous_commit=off"])
        .args(["-c", "full_page_writes=off"])
        // Parallel tests each open a pool of connections.
        .args(["-c", "max_connections=200"])
        .current_dir(dir);
    if let Some((uid, gid)) = owner {
        cmd.uid(uid.as_raw()).gid(gid.as_raw());
    }
    let child = ChildGuard::spawn("postgres", cmd, Output::File(dir.join("postgres.log")))?
        // SIGQUIT = immediate shutdown: no checkpoint, nothing waits for clients to disconnect.
        .with_stop_signal(Signal::SIGQUIT);

    let url = format!("postgres://postgres@127.0.0.1:{port}/postgres");
    let (child_ref, url_ref) = (&child, &url);
    crate::wait_until("PostgreSQL to accept queries", READY_TIMEOUT, move || {
        async move {
            child_ref.ensure_running()?;
            // Before it is ready the port refuses connections, or the server answers "the
            // database system is starting up"; both just mean "not yet".
            let Ok(mut conn) = sqlx::PgConnection::connect(url_ref).await else {
                return Ok(false);
            };
            let one: i32 = sqlx::query_scalar("select 1").fetch_one(&mut conn).await?;
            let _ = conn.close().await;
            Ok(one == 1)
        }
    })
    .await
    .map_err(|err| anyhow::anyhow!("{err:#}\nlast log lines:\n{}", child.log_tail()))?;
    Ok(child)
}

/// Creates a database with a unique name (`t_<random hex>`) and returns its URL.
pub async fn create_database(admin_url: &str) -> anyhow::Result<String> {
    let name = format!("t_{}", crate::random_hex(8));
    let mut conn = sqlx::PgConnection::connect(admin_url)
        .await
        .with_context(|| format!("connect to {admin_url}"))?;
    // CREATE DATABASE cannot take bind parameters; the name is ours and plain hex.
    sqlx::raw_sql(&format!(r#"CREATE DATABASE "{name}""#))
        .execute(&mut conn)
        .await
        .with_context(|| format!("create database {name}"))?;
    conn.close().await?;
    let mut url = url::Url::parse(admin_url).context("parse the admin URL")?;
    url.set_path(&name);
    Ok(url.to_string())
}

/// A fresh database for one test: on the cluster `cargo xtask test` shares through
/// `E2E_POSTGRES_ADMIN_URL` if set (then no guard is returned), else on a private cluster started
/// here (keep the returned guard alive as long as the database is used).
pub async fn test_postgres_url() -> anyhow::Result<(String, Option<Postgres>)> {
    match std::env::var(ADMIN_URL_ENV) {
        Ok(admin) if !admin.is_empty() => Ok((create_database(&admin).await?, None)),
        _ => {
            let cluster = Postgres::start().await?;
            let url = create_database(&cluster.admin_url()).await?;
            Ok((url, Some(cluster)))
        }
    }
}

/// Finds a PostgreSQL server program ([`toolchain::postgres_binary`] says where it looks).
pub fn find_binary(name: &str) -> anyhow::Result<PathBuf> {
    toolchain::postgres_binary(name).with_context(|| {
        format!(
            "PostgreSQL's `{name}` is neither on PATH nor in /usr/lib/postgresql/*/bin \
             (`cargo xtask test` installs it)"
        )
    })
}

/// When we are root: the uid and gid of the service user, created on first use.
fn service_user() -> anyhow::Result<Option<(Uid, Gid)>> {
    if !Uid::effective().is_root() {
        return Ok(None);
    }
    // Serialises creation among our own threads; another process racing us is handled by
    // looking the user up again when useradd fails.
    static CREATE: Mutex<()> = Mutex::new(());
    let _lock = CREATE
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let lookup = || -> anyhow::Result<Option<(Uid, Gid)>> {
        Ok(User::from_name(SERVICE_USER)?.map(|u| (u.uid, u.gid)))
    };
    if let Some(ids) = lookup()? {
        return Ok(Some(ids));
    }
    let out = Command::new("useradd")
        .args(["--system", "--create-home", SERVICE_USER])
        .output()
        .context("run useradd")?;
    match lookup()? {
        Some(ids) => Ok(Some(ids)),
        None => anyhow::bail!(
            "PostgreSQL cannot run as root and creating the user `{SERVICE_USER}` failed: {}",
            String::from_utf8_lossy(&out.stderr)
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_private_cluster_answers_queries_and_hands_out_databases() {
        let started = std::time::Instant::now();
        let cluster = Postgres::start().await.unwrap();
        eprintln!("PostgreSQL ready after {:?}", started.elapsed());

        let url = create_database(&cluster.admin_url()).await.unwrap();
        let other = create_database(&cluster.admin_url()).await.unwrap();
        assert_ne!(url, other, "every call makes a new database");

        let mut conn = sqlx::PgConnection::connect(&url).await.unwrap();
        let (one, db): (i32, String) = sqlx::query_as("select 1, current_database()")
            .fetch_one(&mut conn)
            .await
            .unwrap();
        assert_eq!(one, 1);
        assert!(url.ends_with(&format!("/{db}")), "{url} names {db}");
        conn.close().await.unwrap();

        // Dropping stops the server and removes its files.
        let dir = cluster.dir().to_owned();
        let admin = cluster.admin_url();
        drop(cluster);
        assert!(!dir.exists());
        assert!(sqlx::PgConnection::connect(&admin).await.is_err());
    }

    #[tokio::test]
    async fn test_postgres_url_gives_a_fresh_database() {
        // Uses the shared cluster under `cargo xtask test`, a private one under plain `cargo test`.
        let (url, _cluster) = test_postgres_url().await.unwrap();
        let mut conn = sqlx::PgConnection::connect(&url).await.unwrap();
        let tables: i64 = sqlx::query_scalar(
            "select count(*) from information_schema.tables where table_schema = 'public'",
        )
        .fetch_one(&mut conn)
        .await
        .unwrap();
        assert_eq!(tables, 0, "a new database is empty");
        conn.close().await.unwrap();
    }

    #[test]
    fn finds_initdb() {
        let initdb = find_binary("initdb").unwrap();
        assert!(initdb.ends_with("initdb"));
    }
}
