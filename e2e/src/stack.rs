//! The local stack under test: a real Pushpin in front of the origin, on SQLite or Postgres.
//!
//! The origin runs in this process (on a real port, through `origin::run`, exactly as the binary
//! does), so a test can also reach its database directly, for example to store a message without
//! publishing it and watch the proxy recover it.

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::Context;
use origin::config::{Config, GripConfig};
use origin::store::Store;
use tempfile::TempDir;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::client::Client;
use crate::{Postgres, Pushpin, PushpinOptions, Viceroy, test_postgres_url, wait_until};

/// Which database the origin uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Db {
    Sqlite,
    Postgres,
}

/// A fresh, empty database of either kind; dropping it removes it.
pub struct TestDatabase {
    pub url: String,
    _postgres: Option<Postgres>,
    _dir: Option<TempDir>,
}

impl TestDatabase {
    pub async fn create(db: Db) -> anyhow::Result<TestDatabase> {
        Ok(match db {
            Db::Sqlite => {
                let dir = tempfile::Builder::new().prefix("e2e-sqlite-").tempdir()?;
                TestDatabase {
                    url: format!("sqlite://{}?mode=rwc", dir.path().join("chat.db").display()),
                    _postgres: None,
                    _dir: Some(dir),
                }
            }
            Db::Postgres => {
                let (url, postgres) = test_postgres_url().await?;
                TestDatabase {
                    url,
                    _postgres: postgres,
                    _dir: None,
                }
            }
        })
    }
}

/// Runs each named `async fn(Db) -> anyhow::Result<()>` as two tests, `sqlite::NAME` and
/// `postgres::NAME`: one suite, both stores.
#[macro_export]
macro_rules! on_both_databases {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() -> anyhow::Result<()> {
                    super::$name($crate::Db::Sqlite).await
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() -> anyhow::Result<()> {
                    super::$name($crate::Db::Postgres).await
                }
            )*
        }
    };
}

/// Knobs a test may turn.
#[derive(Debug, Clone)]
pub struct StackOptions {
    pub replay_page: u32,
    pub poll_timeout_secs: u32,
    /// Run the edge in Viceroy in front of Pushpin (the production path).
    pub edge: bool,
    /// Serve the built browser app (see [`crate::browser::frontend_dist`]).
    pub frontend_dir: Option<std::path::PathBuf>,
}

impl Default for StackOptions {
    fn default() -> Self {
        StackOptions {
            replay_page: 1000,
            poll_timeout_secs: 20,
            edge: false,
            frontend_dir: None,
        }
    }
}

/// A running Pushpin + origin + database. Dropping it stops everything.
pub struct Stack {
    /// Declared first: stopped before what it forwards to.
    pub edge: Option<Viceroy>,
    pub pushpin: Pushpin,
    pub origin_addr: SocketAddr,
    pub database_url: String,
    pub session_secret: String,
    shutdown: Option<oneshot::Sender<()>>,
    origin: Option<JoinHandle<anyhow::Result<()>>>,
    // Dropped last: the database outlives the processes that use it.
    _database: TestDatabase,
}

impl Stack {
    pub async fn start(db: Db) -> anyhow::Result<Stack> {
        Stack::start_with(db, StackOptions::default()).await
    }

    pub async fn start_with(db: Db, options: StackOptions) -> anyhow::Result<Stack> {
        let database = TestDatabase::create(db).await?;
        let database_url = database.url.clone();

        // Bind first: Pushpin needs the origin's address, the origin needs Pushpin's key.
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let origin_addr = listener.local_addr()?;
        let pushpin_options = PushpinOptions::for_tests(origin_addr);
        let session_secret = crate::random_hex(32);
        let publish_url = format!("http://127.0.0.1:{}/", pushpin_options.publish_port);
        let config = Config {
            database_url: database_url.clone(),
            grip: GripConfig::parse(
                &publish_url,
                Some(&pushpin_options.sig_key),
                Some(&pushpin_options.sig_iss),
            )?,
            session_secret: session_secret.clone().into_bytes(),
            bind_addr: origin_addr,
            poll_timeout: Duration::from_secs(u64::from(options.poll_timeout_secs)),
            replay_page: options.replay_page,
            frontend_dir: options.frontend_dir.clone(),
        };
        let (shutdown, stop) = oneshot::channel::<()>();
        let origin = tokio::spawn(origin::run(listener, config, async {
            let _ = stop.await;
        }));

        let pushpin = Pushpin::start(pushpin_options).await?;
        let edge = match options.edge {
            true => Some(
                Viceroy::start(
                    crate::free_port(),
                    origin_addr,
                    pushpin.options().http_port,
                    &session_secret,
                )
                .await?,
            ),
            false => None,
        };
        let stack = Stack {
            edge,
            pushpin,
            origin_addr,
            database_url,
            session_secret,
            shutdown: Some(shutdown),
            origin: Some(origin),
            _database: database,
        };
        // Ready when a request goes all the way through Pushpin to the origin's database.
        let health = format!("{}/healthz", stack.pushpin.client_url());
        let http = reqwest::Client::new();
        wait_until("the origin behind Pushpin", Duration::from_secs(30), || {
            let request = http.get(&health).send();
            async move { Ok(request.await.is_ok_and(|r| r.status().is_success())) }
        })
        .await
        .with_context(|| format!("pushpin log:\n{}", stack.pushpin.log_tail()))?;
        Ok(stack)
    }

    /// A client that talks to the front door: the edge when it runs, else Pushpin's client port.
    pub fn client(&self) -> Client {
        Client::new(self.front_url())
    }

    /// Where users connect: the edge if there is one, else Pushpin.
    pub fn front_url(&self) -> String {
        match &self.edge {
            Some(edge) => edge.url(),
            None => self.pushpin.client_url(),
        }
    }

    /// A client that talks to the origin directly, bypassing the proxy.
    pub fn direct_client(&self) -> Client {
        Client::new(format!("http://{}", self.origin_addr))
    }

    /// A second connection pool on the origin's database.
    pub async fn store(&self) -> anyhow::Result<Store> {
        Ok(Store::connect(&self.database_url).await?)
    }

    /// The value of one series of the origin's `/metrics`, e.g.
    /// `chat_stream_holds_total{transport="Poll"}` (0 when it has not been counted yet).
    pub async fn origin_counter(&self, series: &str) -> anyhow::Result<u64> {
        let text = reqwest::get(format!("http://{}/metrics", self.origin_addr))
            .await?
            .error_for_status()?
            .text()
            .await?;
        Ok(text
            .lines()
            .find_map(|line| line.strip_prefix(series)?.trim().parse().ok())
            .unwrap_or(0))
    }

    /// Waits until the origin has answered `count` subscriptions of `transport` ("Sse", "Ws",
    /// "Poll") with a hold: from then on a publish can only reach it, or be recovered for it.
    pub async fn wait_for_holds(&self, transport: &str, count: u64) -> anyhow::Result<()> {
        let series = format!("chat_stream_holds_total{{transport=\"{transport}\"}}");
        wait_until(&series, Duration::from_secs(20), || {
            let counter = self.origin_counter(&series);
            async move { Ok(counter.await? >= count) }
        })
        .await
    }

    /// Stops the origin gracefully and returns how `run` ended.
    pub async fn stop_origin(&mut self) -> anyhow::Result<()> {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        match self.origin.take() {
            Some(task) => task.await?,
            None => Ok(()),
        }
    }
}

impl Drop for Stack {
    fn drop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        if let Some(task) = self.origin.take() {
            task.abort();
        }
    }
}
