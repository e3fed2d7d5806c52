//! The local stack under test: a real Pushpin in front of the origin (or of several origins on
//! one database, [`StackOptions::origins`]), on SQLite or Postgres, with the edge in Viceroy in
//! front of both when asked.
//!
//! The origin runs in this process by default (on a real port, through `origin::run`, exactly as
//! the binary does), or as a process of its own for tests that crash it ([`OriginMode`]). A test
//! can reach the database directly either way, for example to store a message without publishing
//! it and watch the proxy recover it.

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::Context;
use origin::config::Args;
use origin::store::Store;
use tempfile::TempDir;

use crate::client::Client;
use crate::faults::FaultyPublish;
use crate::origin::{Origin, OriginMode};
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
    /// Where the origin runs: in this process, or as a process a test can kill.
    pub origin: OriginMode,
    /// How many origins serve the stack, all on one database and publishing to one Pushpin,
    /// whose route lists them in order ([`crate::pushpin::routes`]: it fails over, it does not
    /// balance). The edge, when it runs, forwards to the first only.
    pub origins: usize,
    /// Publish through a [`FaultyPublish`] endpoint the test can make refuse or hang.
    pub publish_faults: bool,
    /// Pushpin's log level (3: its debug lines, e.g. publish queues at their limit).
    pub pushpin_log_level: Option<u8>,
    /// The origin's `PUBLIC_URL` (default: the front door's own URL, plain HTTP on localhost).
    pub public_url: Option<String>,
    /// How often the origin samples itself for the dashboard, in milliseconds; 0 (the default
    /// here): not at all, so that other tests see only their own publishes.
    pub dashboard_interval_ms: u32,
    /// How long a device stays online after its last presence heartbeat, in seconds.
    pub presence_ttl_secs: u32,
}

impl Default for StackOptions {
    fn default() -> Self {
        StackOptions {
            replay_page: 1000,
            poll_timeout_secs: 20,
            edge: false,
            frontend_dir: None,
            origin: OriginMode::InProcess,
            origins: 1,
            publish_faults: false,
            pushpin_log_level: None,
            public_url: None,
            dashboard_interval_ms: 0,
            presence_ttl_secs: 40,
        }
    }
}

/// A running Pushpin + origin + database. Dropping it stops everything.
pub struct Stack {
    /// Declared first: stopped before what it forwards to.
    pub edge: Option<Viceroy>,
    /// The first origin: Pushpin's route sends everything here while it accepts connections.
    /// The origins stop before Pushpin, as in a deployment: an origin publishes what it still
    /// has queued on its way down, and with Pushpin gone first it retried until killed (5 s per
    /// origin process at every teardown).
    pub origin: Origin,
    pub origin_addr: SocketAddr,
    /// The other origins of [`StackOptions::origins`], in the order Pushpin fails over to them.
    pub more_origins: Vec<Origin>,
    pub pushpin: Pushpin,
    /// The publish endpoint's fault switch, with [`StackOptions::publish_faults`].
    pub publish_faults: Option<FaultyPublish>,
    pub database_url: String,
    pub session_secret: String,
    /// What the origin was started with, for a second origin beside it.
    pub origin_args: Args,
    // Dropped last: the database outlives the processes that use it.
    _database: TestDatabase,
}

impl Stack {
    /// A second origin on the same database and publishing to the same Pushpin, as in a
    /// deployment that scales out; Pushpin does not route to it, so talk to it at its URL.
    pub async fn another_origin(&self) -> anyhow::Result<Origin> {
        let args = Args {
            bind_addr: SocketAddr::from(([127, 0, 0, 1], crate::free_port())),
            ..self.origin_args.clone()
        };
        serving(OriginMode::InProcess, args).await
    }

    /// Every origin: [`Stack::origin`], then [`Stack::more_origins`].
    pub fn origins(&self) -> impl Iterator<Item = &Origin> {
        std::iter::once(&self.origin).chain(&self.more_origins)
    }

    pub async fn start(db: Db) -> anyhow::Result<Stack> {
        Stack::start_with(db, StackOptions::default()).await
    }

    pub async fn start_with(db: Db, options: StackOptions) -> anyhow::Result<Stack> {
        let database = TestDatabase::create(db).await?;
        let database_url = database.url.clone();

        // Ports first: Pushpin needs the origin's address, the origin needs Pushpin's key.
        let origin_addr = SocketAddr::from(([127, 0, 0, 1], crate::free_port()));
        let more_addrs: Vec<SocketAddr> = (1..options.origins)
            .map(|_| SocketAddr::from(([127, 0, 0, 1], crate::free_port())))
            .collect();
        let mut pushpin_options = PushpinOptions::for_tests(origin_addr);
        pushpin_options.fallback_origins = more_addrs.clone();
        if let Some(level) = options.pushpin_log_level {
            pushpin_options.log_level = level;
        }
        let session_secret = crate::random_hex(32);
        let publish_url = format!("http://127.0.0.1:{}/", pushpin_options.publish_port);
        let publish_faults = match options.publish_faults {
            true => Some(FaultyPublish::start(publish_url.clone()).await?),
            false => None,
        };
        // Where users come in: the edge when it runs, else Pushpin's client port (tests that
        // talk to Pushpin send no `Origin`, so the origin's same-site check passes them).
        let edge_port = crate::free_port();
        let front_port = match options.edge {
            true => edge_port,
            false => pushpin_options.http_port,
        };
        let args = Args {
            database_url: database_url.clone(),
            grip_url: publish_faults
                .as_ref()
                .map_or(publish_url, FaultyPublish::url),
            grip_verify_key: Some(pushpin_options.sig_key.clone()),
            grip_verify_iss: Some(pushpin_options.sig_iss.clone()),
            session_secret: session_secret.clone(),
            bind_addr: origin_addr,
            poll_timeout_secs: options.poll_timeout_secs,
            presence_ttl_secs: options.presence_ttl_secs,
            replay_page: options.replay_page,
            frontend_dir: options.frontend_dir.clone(),
            public_url: options
                .public_url
                .clone()
                .unwrap_or_else(|| format!("http://127.0.0.1:{front_port}")),
            allowed_origins: String::new(),
            dashboard_interval_ms: options.dashboard_interval_ms,
            origin_name: None,
        };
        // A process origin waits for its own health check, which needs no Pushpin.
        let origin = Origin::start(options.origin.clone(), args.clone()).await?;

        let pushpin = Pushpin::start(pushpin_options).await?;
        let edge = match options.edge {
            true => Some(
                Viceroy::start(
                    edge_port,
                    origin_addr,
                    pushpin.options().http_port,
                    &session_secret,
                )
                .await?,
            ),
            false => None,
        };
        let mut stack = Stack {
            edge,
            pushpin,
            origin,
            origin_addr,
            more_origins: Vec::new(),
            publish_faults,
            database_url,
            session_secret,
            origin_args: args,
            _database: database,
        };
        // Ready when a request goes all the way through Pushpin to the origin's database (as
        // `wait_until` does, but failing at once with the origin's own error if it stopped).
        let health = format!("{}/healthz", stack.pushpin.client_url());
        let http = reqwest::Client::new();
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        loop {
            stack.origin.ensure_running()?;
            let answer = http.get(&health).send().await;
            if answer.is_ok_and(|r| r.status().is_success()) {
                break;
            }
            if std::time::Instant::now() > deadline {
                anyhow::bail!(
                    "the origin behind Pushpin did not answer within 30 s; pushpin log:\n{}",
                    stack.pushpin.log_tail()
                );
            }
            tokio::time::sleep(crate::POLL_INTERVAL).await;
        }
        // The others once the first has migrated the database (two migrations at once could
        // collide on SQLite), each ready before the next.
        for bind_addr in more_addrs {
            let args = Args {
                bind_addr,
                ..stack.origin_args.clone()
            };
            let origin = serving(options.origin.clone(), args).await?;
            stack.more_origins.push(origin);
        }
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

    /// A `Grip-Sig` as Pushpin signs it (valid for a minute), for requests straight to the
    /// origin that must pass as coming through the proxy.
    pub fn grip_sig(&self) -> anyhow::Result<String> {
        let exp = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)?
            .as_secs()
            + 60;
        Ok(jsonwebtoken::encode(
            &jsonwebtoken::Header::default(),
            &serde_json::json!({"iss": self.pushpin.sig_iss(), "exp": exp}),
            &jsonwebtoken::EncodingKey::from_secret(self.pushpin.sig_key().as_bytes()),
        )?)
    }

    /// A second connection pool on the origin's database.
    pub async fn store(&self) -> anyhow::Result<Store> {
        Ok(Store::connect(&self.database_url).await?)
    }

    /// The value of one series of the (first) origin's `/metrics` (see [`Origin::counter`]).
    pub async fn origin_counter(&self, series: &str) -> anyhow::Result<u64> {
        self.origin.counter(series).await
    }

    /// How many subscriptions of `transport` the origin has answered with a hold so far,
    /// proxy refreshes included: wait for one more than this to wait for the next hold.
    pub async fn holds(&self, transport: &str) -> anyhow::Result<u64> {
        self.origin_counter(&format!(
            "chat_stream_holds_total{{transport=\"{transport}\"}}"
        ))
        .await
    }

    /// Waits until the origin has answered `count` subscriptions of `transport` ("Sse", "Ws",
    /// "Poll") with a hold: from then on a publish can only reach it, or be recovered for it.
    pub async fn wait_for_holds(&self, transport: &str, count: u64) -> anyhow::Result<()> {
        self.wait_for_counter(
            &format!("chat_stream_holds_total{{transport=\"{transport}\"}}"),
            count,
        )
        .await
    }

    /// Waits until `streams` SSE streams are held and Pushpin has refreshed the streams of
    /// `channels` channels. A second after a channel's first subscriber, Pushpin fetches the next
    /// link of its streams (its guard against publishes missed while subscribing; the handler's
    /// `SUBSCRIBED_DELAY`); left to chance, that refresh could repair a stream in the middle of a
    /// test and hide what the test is about.
    pub async fn wait_for_sse_settled(&self, streams: u64, channels: u64) -> anyhow::Result<()> {
        self.wait_for_holds("Sse", streams).await?;
        self.wait_for_counter("chat_stream_recoveries_total{transport=\"Sse\"}", channels)
            .await
    }

    /// Waits until the origin's counter `series` (see [`Stack::origin_counter`]) reaches `count`.
    pub async fn wait_for_counter(&self, series: &str, count: u64) -> anyhow::Result<()> {
        wait_until(series, Duration::from_secs(20), || {
            let counter = self.origin_counter(series);
            async move { Ok(counter.await? >= count) }
        })
        .await
    }

    /// Stops the origin gracefully and returns how it ended.
    pub async fn stop_origin(&mut self) -> anyhow::Result<()> {
        self.origin.stop().await
    }

    /// The publish endpoint's fault switch; fails unless the stack has one.
    pub fn faults(&self) -> anyhow::Result<&FaultyPublish> {
        self.publish_faults
            .as_ref()
            .context("start the stack with `publish_faults: true`")
    }
}

/// Starts an origin and returns once it answers `/healthz` (it has migrated its database).
async fn serving(mode: OriginMode, args: Args) -> anyhow::Result<Origin> {
    let health = format!("http://{}/healthz", args.bind_addr);
    let origin = Origin::start(mode, args).await?;
    wait_until(
        "the origin's health check",
        Duration::from_secs(30),
        || async {
            Ok(reqwest::get(&health)
                .await
                .is_ok_and(|r| r.status().is_success()))
        },
    )
    .await?;
    Ok(origin)
}
