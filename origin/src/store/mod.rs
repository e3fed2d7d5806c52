//! The database: the only state the origin has, so any number of origins can serve one room.
//!
//! - [`channels`]: the core's channels and their entries (any kind: chat messages, dashboard
//!   samples), appended with a gapless seq.
//! - [`rooms`]: chat rooms, their members, and the channel each one's messages go to.
//! - [`users`]: accounts and sessions.
//! - [`presence`]: who is in which room now (devices and their heartbeats).
//! - [`reads`]: how far each user has read each room (unread counts).
//! - [`search`]: full-text search in a channel's entries.
//!
//! One binary, two stores: sqlx's `Any` driver runs the same SQL on SQLite (the default, a file
//! under `data/`) and Postgres (`DATABASE_URL=postgres://…`). The queries stick to what both
//! understand (`$1` placeholders, `RETURNING`, text ids, millisecond timestamps); only the
//! migrations differ, one directory per database.

pub mod channels;
mod presence;
mod reads;
mod rooms;
mod search;
mod users;

pub use channels::{Channel, Slot, Stored};
pub use presence::{Gone, Heartbeat};
pub use rooms::RoomRow;
pub use users::UserRow;

use std::str::FromStr;

use sqlx::any::{AnyPoolOptions, install_default_drivers};
use sqlx::migrate::Migrator;
use sqlx::{AnyPool, Executor};

static SQLITE_MIGRATIONS: Migrator = sqlx::migrate!("./migrations/sqlite");
static POSTGRES_MIGRATIONS: Migrator = sqlx::migrate!("./migrations/postgres");

/// Connections per origin. SQLite writes one at a time whatever the pool, so a few suffice for
/// readers (writers have their own connection, [`Store::writer`]); Postgres serves many origins,
/// so each keeps its share modest.
const SQLITE_CONNECTIONS: u32 = 8;
const POSTGRES_CONNECTIONS: u32 = 16;

/// What can go wrong in the store, in terms the HTTP layer can act on.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A unique constraint said no: the name or slug is taken.
    #[error("already exists")]
    Conflict,
    /// An entry whose publish item would be this many bytes, over Fanout's limit: refused
    /// before anything was written.
    #[error("the entry would be {0} bytes once published")]
    TooLarge(usize),
    /// `DATABASE_URL` names a database this binary does not speak.
    #[error("DATABASE_URL must start with sqlite: or postgres:, got {0:?}")]
    UnsupportedUrl(String),
    #[error(transparent)]
    Database(#[from] sqlx::Error),
    #[error("migrating the database: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
}

impl StoreError {
    /// Maps a unique-constraint violation to [`StoreError::Conflict`], everything else as is.
    fn from_insert(err: sqlx::Error) -> Self {
        match err.as_database_error() {
            Some(db) if db.is_unique_violation() => StoreError::Conflict,
            _ => StoreError::Database(err),
        }
    }
}

/// Which database is behind the pool.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl FromStr for Backend {
    type Err = StoreError;
    fn from_str(url: &str) -> Result<Self, Self::Err> {
        if url.starts_with("sqlite:") {
            Ok(Backend::Sqlite)
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            Ok(Backend::Postgres)
        } else {
            Err(StoreError::UnsupportedUrl(url.to_owned()))
        }
    }
}

/// A pool of connections to the chat database. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Store {
    /// For reads.
    pool: AnyPool,
    /// For every statement that writes. On SQLite, one connection: writers queue for it here,
    /// woken the moment it is free, instead of inside SQLite, whose busy handler sleeps in
    /// steps of up to 100 ms while another connection holds the write lock. With writers on
    /// the shared pool, a post that met a head announcement or a presence sweep waited
    /// 0.1–3.5 s (measured: a lone poster's median was 8 ms, docs/BENCHMARKS.md). Postgres
    /// locks rows and wakes waiters at once: there it is the same pool.
    writer: AnyPool,
    backend: Backend,
}

impl Store {
    /// Connects, creating the SQLite file (and its directory) if needed, and runs the migrations.
    pub async fn connect(url: &str) -> Result<Store, StoreError> {
        let backend: Backend = url.parse()?;
        install_default_drivers();
        if backend == Backend::Sqlite {
            create_sqlite_dir(url);
        }
        let options = || {
            AnyPoolOptions::new().after_connect(move |conn, _meta| {
                Box::pin(async move {
                    if backend == Backend::Sqlite {
                        // WAL lets readers (replays) run while a post writes; the busy timeout
                        // covers a writer outside this pool (another process on the file).
                        // `synchronous = FULL`: a post is on disk before it is answered and
                        // published. WAL's usual NORMAL survives a crash of the process but not
                        // of the machine: a power cut could roll back a message subscribers had
                        // already seen, and its seq would go to another message, which clients
                        // past it then skip. FULL costs one fsync per commit, shared by the
                        // posts to a room that arrive together (`channel::group`,
                        // docs/BENCHMARKS.md).
                        conn.execute("PRAGMA journal_mode = WAL; PRAGMA busy_timeout = 10000; PRAGMA foreign_keys = ON; PRAGMA synchronous = FULL")
                            .await?;
                    }
                    Ok(())
                })
            })
        };
        let (pool, writer) = match backend {
            Backend::Sqlite => {
                let writer = options().max_connections(1).connect(url).await?;
                SQLITE_MIGRATIONS.run(&writer).await?;
                let pool = options()
                    .max_connections(SQLITE_CONNECTIONS)
                    .connect(url)
                    .await?;
                (pool, writer)
            }
            Backend::Postgres => {
                let pool = options()
                    .max_connections(POSTGRES_CONNECTIONS)
                    .connect(url)
                    .await?;
                POSTGRES_MIGRATIONS.run(&pool).await?;
                (pool.clone(), pool)
            }
        };
        Ok(Store {
            pool,
            writer,
            backend,
        })
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// A transaction that reads before it writes. On SQLite it takes the write lock at once
    /// (`BEGIN IMMEDIATE`, waiting out the busy timeout like any writer): a deferred one that
    /// read first cannot upgrade once another connection has written meanwhile, and fails with
    /// SQLITE_BUSY whatever the timeout (seen: concurrent presence heartbeats answered 500).
    pub(crate) async fn begin_read_write(
        &self,
    ) -> Result<sqlx::Transaction<'static, sqlx::Any>, StoreError> {
        Ok(match self.backend {
            Backend::Sqlite => self.writer.begin_with("BEGIN IMMEDIATE").await?,
            Backend::Postgres => self.writer.begin().await?,
        })
    }

    /// A trivial query, for the health check.
    pub async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    /// Closes every connection; used at shutdown so SQLite checkpoints its WAL.
    pub async fn close(&self) {
        self.pool.close().await;
        self.writer.close().await;
    }
}

/// `sqlite://data/chat.db?mode=rwc` creates the file but not its directory.
fn create_sqlite_dir(url: &str) {
    let path = url
        .trim_start_matches("sqlite:")
        .trim_start_matches("//")
        .split('?')
        .next()
        .unwrap_or_default();
    if path.is_empty() || path == ":memory:" {
        return;
    }
    if let Some(dir) = std::path::Path::new(path).parent() {
        // An error here resurfaces, with a better message, when sqlx opens the file.
        let _ = std::fs::create_dir_all(dir);
    }
}

/// Milliseconds since the Unix epoch: how the schema stores time.
pub(crate) fn now_millis() -> i64 {
    (time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000) as i64
}
