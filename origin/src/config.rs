//! Configuration: read from the environment (or flags) once at start-up and validated there, so
//! a mistake stops the origin with a message that names the variable to set.

use std::net::SocketAddr;
use std::time::Duration;

use base64::Engine as _;
use clap::Parser;
use jsonwebtoken::{Algorithm, DecodingKey};
use url::Url;

/// The origin's settings as given; [`Config::from_args`] turns them into a checked [`Config`].
#[derive(Debug, Clone, Parser)]
#[command(name = "origin", version, about)]
pub struct Args {
    /// Where accounts, rooms and messages live: `sqlite://PATH?mode=rwc` or `postgres://…`.
    #[arg(
        long,
        env = "DATABASE_URL",
        default_value = "sqlite://data/chat.db?mode=rwc"
    )]
    pub database_url: String,

    /// The GRIP publish endpoint: local Pushpin's `http://127.0.0.1:5561/`, or Fastly's
    /// `https://api.fastly.com/service/<id>/?verify-iss=fastly:<id>&key=<token>`.
    #[arg(long, env = "GRIP_URL", default_value = "http://127.0.0.1:5561/")]
    pub grip_url: String,

    /// The key that signs `Grip-Sig`: Pushpin's `sig_key` (an HS256 secret), or Fanout's ES256
    /// public key as PEM or `base64:<PEM in base64>`. May also be GRIP_URL's `verify-key`.
    #[arg(long, env = "GRIP_VERIFY_KEY")]
    pub grip_verify_key: Option<String>,

    /// The `iss` that `Grip-Sig` must carry (Pushpin's `sig_iss`; GRIP_URL's `verify-iss`).
    #[arg(long, env = "GRIP_VERIFY_ISS")]
    pub grip_verify_iss: Option<String>,

    /// Secret that signs session tokens and next-link capabilities; at least 32 bytes.
    /// The edge verifies sessions with the same secret.
    #[arg(long, env = "SESSION_SECRET", hide_env_values = true)]
    pub session_secret: String,

    /// Address the HTTP server listens on.
    #[arg(long, env = "BIND_ADDR", default_value = "127.0.0.1:8080")]
    pub bind_addr: SocketAddr,

    /// Seconds a long-poll request is held before it answers with no messages.
    #[arg(long, env = "POLL_TIMEOUT_SECS", default_value_t = 55)]
    pub poll_timeout_secs: u32,

    /// Seconds a device stays online in a room after its last presence heartbeat (the app
    /// sends one every 15 s).
    #[arg(long, env = "PRESENCE_TTL_SECS", default_value_t = 40)]
    pub presence_ttl_secs: u32,

    /// Most messages one stream response replays; the rest follows through a next link.
    #[arg(long, env = "REPLAY_PAGE", default_value_t = 1000)]
    pub replay_page: u32,

    /// The built browser app (`trunk build` output, e.g. `frontend/dist`), served at `/` with
    /// every unknown non-API path answered by its `index.html`. Unset: API only.
    #[arg(long, env = "FRONTEND_DIR")]
    pub frontend_dir: Option<std::path::PathBuf>,

    /// Where people open the app (the edge). `https://…` makes the session cookie `Secure`
    /// (`__Host-session`); any host but localhost turns on the production checks of the
    /// `Grip-Sig` key. Its origin may write to the API.
    #[arg(long, env = "PUBLIC_URL", default_value = "http://127.0.0.1:7676")]
    pub public_url: String,

    /// Other origins (`scheme://host[:port]`, comma-separated) whose pages may write to the API.
    #[arg(long, env = "ALLOWED_ORIGINS", default_value = "")]
    pub allowed_origins: String,

    /// How often this origin appends its figures to the `system` dashboard, in milliseconds;
    /// 0 turns the sampler off.
    #[arg(long, env = "DASHBOARD_INTERVAL_MS", default_value_t = 1000)]
    pub dashboard_interval_ms: u32,

    /// This origin's name on the dashboard (several origins may feed it); default: the host
    /// name and the port.
    #[arg(long, env = "ORIGIN_NAME")]
    pub origin_name: Option<String>,
}

/// A configuration problem, worded as what to set.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error(
        "SESSION_SECRET must be at least 32 bytes (got {0}); generate one with `openssl rand -hex 32`"
    )]
    WeakSessionSecret(usize),
    #[error("GRIP_URL is not a valid URL ({0}): expected e.g. http://127.0.0.1:5561/")]
    GripUrl(String),
    #[error(
        "set GRIP_VERIFY_KEY (Pushpin's sig_key, or Fanout's public key) so that requests can be checked to come through Fanout"
    )]
    MissingVerifyKey,
    #[error("GRIP_VERIFY_KEY is not usable: {0}")]
    VerifyKey(String),
    #[error("REPLAY_PAGE must be between 1 and 10000")]
    ReplayPage,
    #[error("POLL_TIMEOUT_SECS must be between 1 and 3600")]
    PollTimeout,
    #[error("PRESENCE_TTL_SECS must be between 1 and 3600")]
    PresenceTtl,
    #[error("DASHBOARD_INTERVAL_MS must be 0 (off) or between 100 and 60000")]
    DashboardInterval,
    #[error(
        "FRONTEND_DIR {0:?} has no index.html: build the app with `cargo xtask dev` (or `trunk build --release` in frontend/), or unset FRONTEND_DIR"
    )]
    FrontendDir(std::path::PathBuf),
    #[error("PUBLIC_URL is not an http(s) URL ({0}): expected e.g. https://chat.example.com")]
    PublicUrl(String),
    #[error(
        "ALLOWED_ORIGINS holds {0:?}, which is not an origin: list scheme://host[:port] values"
    )]
    AllowedOrigin(String),
    #[error(
        "GRIP_VERIFY_KEY is an HS256 secret that anyone could guess ({0}); outside localhost set Pushpin's sig_key to a random value of at least 32 bytes (`openssl rand -hex 32`) and give the origin the same"
    )]
    WeakVerifyKey(&'static str),
    #[error(
        "Fanout's ES256 public key is the same for every Fastly customer: set GRIP_VERIFY_ISS (or GRIP_URL's verify-iss) to fastly:<your service id>, so that only your service's Grip-Sig passes"
    )]
    MissingVerifyIss,
}

/// Checked settings; everything the origin needs to start.
#[derive(Clone)]
pub struct Config {
    pub database_url: String,
    pub grip: GripConfig,
    pub session_secret: Vec<u8>,
    pub bind_addr: SocketAddr,
    pub poll_timeout: Duration,
    pub replay_page: u32,
    pub presence_ttl: Duration,
    /// The dashboard sampler's interval and this origin's name there; `None`: off.
    pub dashboard: Option<(Duration, String)>,
    /// The browser app's files, checked to hold an `index.html`.
    pub frontend_dir: Option<std::path::PathBuf>,
    pub site: Site,
}

/// What the origin knows of where people reach it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Site {
    /// `PUBLIC_URL` is HTTPS: the session cookie is `Secure` and named `__Host-session`.
    pub https: bool,
    /// Origins whose pages may write to the API: `PUBLIC_URL`'s and `ALLOWED_ORIGINS`.
    pub allowed_origins: Vec<String>,
    /// `PUBLIC_URL` is not localhost: the production checks apply.
    pub production: bool,
}

impl Site {
    fn parse(public_url: &str, allowed: &str) -> Result<Site, ConfigError> {
        let url = Url::parse(public_url).map_err(|e| ConfigError::PublicUrl(e.to_string()))?;
        if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
            return Err(ConfigError::PublicUrl("must be an http(s) URL".into()));
        }
        let local = matches!(url.host_str(), Some("localhost" | "127.0.0.1" | "[::1]"));
        let mut allowed_origins = vec![url.origin().ascii_serialization()];
        if local {
            // On this machine the same page is reached as localhost and as 127.0.0.1 alike.
            for host in ["localhost", "127.0.0.1", "[::1]"] {
                let mut same = url.clone();
                if same.set_host(Some(host)).is_ok() {
                    let origin = same.origin().ascii_serialization();
                    if !allowed_origins.contains(&origin) {
                        allowed_origins.push(origin);
                    }
                }
            }
        }
        for origin in allowed.split(',').map(str::trim).filter(|o| !o.is_empty()) {
            let parsed =
                Url::parse(origin).map_err(|_| ConfigError::AllowedOrigin(origin.to_owned()))?;
            let serialized = parsed.origin().ascii_serialization();
            if serialized != origin.trim_end_matches('/') {
                return Err(ConfigError::AllowedOrigin(origin.to_owned()));
            }
            allowed_origins.push(serialized);
        }
        Ok(Site {
            https: url.scheme() == "https",
            allowed_origins,
            production: !local,
        })
    }
}

/// Pushpin's stock `sig_key`: a value everybody has.
const STOCK_SIG_KEYS: &[&str] = &["changeme"];

/// Where to publish and how to check that a request came through the GRIP proxy.
#[derive(Clone)]
pub struct GripConfig {
    /// The full `…/publish/` URL.
    pub publish_url: Url,
    pub publish_auth: Option<PublishAuth>,
    pub verify_key: DecodingKey,
    pub verify_alg: Algorithm,
    pub verify_iss: Option<String>,
    /// Bytes of an HS256 secret (0 for an ES256 public key), for the production check.
    hs256_secret: Option<Vec<u8>>,
}

/// The credential a publish request carries.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PublishAuth {
    /// Fastly's API wants its token in `Fastly-Key`.
    FastlyKey(String),
    /// Any other GRIP server: `Authorization: Bearer`.
    Bearer(String),
}

impl Config {
    /// Reads flags and environment; exits with clap's message when they don't parse.
    pub fn from_env() -> Result<Config, ConfigError> {
        Config::from_args(Args::parse())
    }

    pub fn from_args(args: Args) -> Result<Config, ConfigError> {
        if args.session_secret.len() < 32 {
            return Err(ConfigError::WeakSessionSecret(args.session_secret.len()));
        }
        if !(1..=10_000).contains(&args.replay_page) {
            return Err(ConfigError::ReplayPage);
        }
        if !(1..=3600).contains(&args.poll_timeout_secs) {
            return Err(ConfigError::PollTimeout);
        }
        if !(1..=3600).contains(&args.presence_ttl_secs) {
            return Err(ConfigError::PresenceTtl);
        }
        if args.dashboard_interval_ms != 0 && !(100..=60_000).contains(&args.dashboard_interval_ms)
        {
            return Err(ConfigError::DashboardInterval);
        }
        if let Some(dir) = &args.frontend_dir
            && !dir.join("index.html").is_file()
        {
            return Err(ConfigError::FrontendDir(dir.clone()));
        }
        let grip = GripConfig::parse(
            &args.grip_url,
            args.grip_verify_key.as_deref(),
            args.grip_verify_iss.as_deref(),
        )?;
        let site = Site::parse(&args.public_url, &args.allowed_origins)?;
        if site.production {
            grip.check_for_production()?;
        }
        Ok(Config {
            database_url: args.database_url,
            grip,
            session_secret: args.session_secret.into_bytes(),
            bind_addr: args.bind_addr,
            poll_timeout: Duration::from_secs(u64::from(args.poll_timeout_secs)),
            replay_page: args.replay_page,
            presence_ttl: Duration::from_secs(u64::from(args.presence_ttl_secs)),
            dashboard: (args.dashboard_interval_ms > 0).then(|| {
                let name = args.origin_name.unwrap_or_else(|| {
                    let host = std::env::var("HOSTNAME").unwrap_or_else(|_| "origin".into());
                    format!("{host}:{}", args.bind_addr.port())
                });
                (
                    Duration::from_millis(u64::from(args.dashboard_interval_ms)),
                    name,
                )
            }),
            frontend_dir: args.frontend_dir,
            site,
        })
    }
}

impl GripConfig {
    /// Parses a GRIP_URL; an explicit verify key or issuer wins over the URL's parameters.
    pub fn parse(
        grip_url: &str,
        verify_key: Option<&str>,
        verify_iss: Option<&str>,
    ) -> Result<GripConfig, ConfigError> {
        let mut url = Url::parse(grip_url).map_err(|e| ConfigError::GripUrl(e.to_string()))?;
        if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
            return Err(ConfigError::GripUrl("must be an http(s) URL".into()));
        }
        let param = |name: &str| {
            url.query_pairs()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.into_owned())
        };
        let key = param("key");
        let url_iss = param("verify-iss");
        let url_verify_key = param("verify-key");
        let is_fastly = url.host_str() == Some("api.fastly.com");

        url.set_query(None);
        if !url.path().ends_with('/') {
            let path = format!("{}/", url.path());
            url.set_path(&path);
        }
        let publish_url = url
            .join("publish/")
            .map_err(|e| ConfigError::GripUrl(e.to_string()))?;

        let verify = verify_key
            .map(str::to_owned)
            .or(url_verify_key)
            .ok_or(ConfigError::MissingVerifyKey)?;
        let (verify_key, verify_alg) = parse_verify_key(&verify)?;
        let hs256_secret = (verify_alg == Algorithm::HS256).then(|| verify.clone().into_bytes());
        Ok(GripConfig {
            publish_url,
            publish_auth: key.map(|k| {
                if is_fastly {
                    PublishAuth::FastlyKey(k)
                } else {
                    PublishAuth::Bearer(k)
                }
            }),
            verify_key,
            verify_alg,
            verify_iss: verify_iss.map(str::to_owned).or(url_iss),
            hs256_secret,
        })
    }

    /// Outside localhost, a `Grip-Sig` that anyone could produce is refused at start-up: an
    /// HS256 secret must be strong, and Fanout's ES256 key (shared by every Fastly customer) must
    /// come with this service's issuer.
    fn check_for_production(&self) -> Result<(), ConfigError> {
        match &self.hs256_secret {
            Some(secret) if STOCK_SIG_KEYS.contains(&String::from_utf8_lossy(secret).as_ref()) => {
                Err(ConfigError::WeakVerifyKey("Pushpin's stock sig_key"))
            }
            Some(secret) if secret.len() < 32 => {
                Err(ConfigError::WeakVerifyKey("shorter than 32 bytes"))
            }
            None if self.verify_iss.is_none() => Err(ConfigError::MissingVerifyIss),
            _ => Ok(()),
        }
    }
}

/// A PEM public key means Fanout's ES256 signature; anything else is Pushpin's HS256 secret.
/// `base64:` wraps either, because a PEM is awkward in an environment variable.
fn parse_verify_key(value: &str) -> Result<(DecodingKey, Algorithm), ConfigError> {
    let bytes = match value.strip_prefix("base64:") {
        Some(b64) => base64::engine::general_purpose::STANDARD
            .decode(b64.trim())
            .map_err(|e| ConfigError::VerifyKey(format!("bad base64: {e}")))?,
        None => value.as_bytes().to_vec(),
    };
    if bytes.starts_with(b"-----BEGIN PUBLIC KEY-----") {
        let key = DecodingKey::from_ec_pem(&bytes)
            .map_err(|e| ConfigError::VerifyKey(format!("not an EC public key: {e}")))?;
        Ok((key, Algorithm::ES256))
    } else if bytes.is_empty() {
        Err(ConfigError::VerifyKey("empty".into()))
    } else {
        Ok((DecodingKey::from_secret(&bytes), Algorithm::HS256))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Fanout's public key as Fastly documents it for GRIP_VERIFY_KEY.
    const FASTLY_KEY: &str = "base64:LS0tLS1CRUdJTiBQVUJMSUMgS0VZLS0tLS0KTUZrd0V3WUhLb1pJemowQ0FRWUlLb1pJemowREFRY0RRZ0FFQ0tvNUExZWJ5RmNubVZWOFNFNU9uKzhHODFKeQpCalN2Y3J4NFZMZXRXQ2p1REFtcHBUbzN4TS96ejc2M0NPVENnSGZwLzZsUGRDeVlqanFjK0dNN3N3PT0KLS0tLS1FTkQgUFVCTElDIEtFWS0tLS0t";

    #[test]
    fn local_pushpin_url() {
        let g = GripConfig::parse("http://127.0.0.1:5561/", Some("changeme"), None).unwrap();
        assert_eq!(g.publish_url.as_str(), "http://127.0.0.1:5561/publish/");
        assert_eq!(g.publish_auth, None);
        assert_eq!(g.verify_alg, Algorithm::HS256);
        assert_eq!(g.verify_iss, None);
    }

    #[test]
    fn fastly_url_with_documented_key() {
        let g = GripConfig::parse(
            "https://api.fastly.com/service/SVC/?verify-iss=fastly:SVC&key=TOKEN",
            Some(FASTLY_KEY),
            None,
        )
        .unwrap();
        assert_eq!(
            g.publish_url.as_str(),
            "https://api.fastly.com/service/SVC/publish/"
        );
        assert_eq!(g.publish_auth, Some(PublishAuth::FastlyKey("TOKEN".into())));
        assert_eq!(g.verify_iss.as_deref(), Some("fastly:SVC"));
        assert_eq!(g.verify_alg, Algorithm::ES256);
    }

    #[test]
    fn url_without_trailing_slash_and_verify_key_param() {
        let g =
            GripConfig::parse("http://pushpin:5561?verify-key=secret&key=k", None, None).unwrap();
        assert_eq!(g.publish_url.as_str(), "http://pushpin:5561/publish/");
        assert_eq!(g.publish_auth, Some(PublishAuth::Bearer("k".into())));
    }

    #[test]
    fn errors_name_what_to_set() {
        let missing = GripConfig::parse("http://127.0.0.1:5561/", None, None).err();
        assert!(missing.unwrap().to_string().contains("GRIP_VERIFY_KEY"));
        let bad = GripConfig::parse("not a url", Some("k"), None).err();
        assert!(bad.unwrap().to_string().contains("GRIP_URL"));
        let bad_pem = GripConfig::parse(
            "http://x/",
            Some("-----BEGIN PUBLIC KEY-----\nnope\n-----END PUBLIC KEY-----"),
            None,
        )
        .err();
        assert!(bad_pem.unwrap().to_string().contains("GRIP_VERIFY_KEY"));
    }

    #[test]
    fn short_session_secret_is_refused() {
        let args = Args::parse_from([
            "origin",
            "--session-secret",
            "short",
            "--grip-verify-key",
            "k",
        ]);
        let err = Config::from_args(args).err().unwrap();
        assert!(err.to_string().contains("SESSION_SECRET"));
    }

    /// Flags with a good session secret and `verify_key`.
    fn args_with_key(verify_key: &str, extra: &[&str]) -> Args {
        let base = [
            "origin",
            "--session-secret",
            "0123456789abcdef0123456789abcdef",
            "--grip-verify-key",
            verify_key,
        ];
        Args::parse_from(base.iter().chain(extra))
    }

    /// The same with Pushpin's stock `sig_key`.
    fn args(extra: &[&str]) -> Args {
        args_with_key("changeme", extra)
    }

    #[test]
    fn the_public_url_decides_cookies_origins_and_strictness() {
        let local = Config::from_args(args(&[])).unwrap().site;
        assert_eq!(
            local,
            Site {
                https: false,
                allowed_origins: vec![
                    "http://127.0.0.1:7676".into(),
                    "http://localhost:7676".into(),
                    "http://[::1]:7676".into(),
                ],
                production: false,
            },
            "localhost over HTTP is development: Pushpin's stock key is fine there"
        );
        let strong = "0123456789abcdef0123456789abcdef-strong";
        let public = Config::from_args(args_with_key(
            strong,
            &[
                "--public-url",
                "https://chat.example.com/",
                "--allowed-origins",
                "https://admin.example.com, http://localhost:3000",
            ],
        ))
        .unwrap()
        .site;
        assert_eq!(
            public,
            Site {
                https: true,
                allowed_origins: vec![
                    "https://chat.example.com".into(),
                    "https://admin.example.com".into(),
                    "http://localhost:3000".into(),
                ],
                production: true,
            }
        );
        let bad_origin = args(&["--allowed-origins", "https://x.example/path"]);
        assert!(
            Config::from_args(bad_origin)
                .err()
                .unwrap()
                .to_string()
                .contains("ALLOWED_ORIGINS")
        );
    }

    #[test]
    fn production_refuses_a_grip_sig_anyone_could_make() {
        let public = ["--public-url", "https://chat.example.com"];
        let stock = Config::from_args(args(&public)).err().unwrap();
        assert!(stock.to_string().contains("stock sig_key"), "{stock}");
        let short = Config::from_args(args_with_key("short", &public));
        assert!(short.err().unwrap().to_string().contains("32 bytes"));
        let without_iss = Config::from_args(args_with_key(FASTLY_KEY, &public));
        assert!(
            without_iss
                .err()
                .unwrap()
                .to_string()
                .contains("GRIP_VERIFY_ISS")
        );
        let with_iss = args_with_key(
            FASTLY_KEY,
            &[public[0], public[1], "--grip-verify-iss", "fastly:SVC"],
        );
        assert!(Config::from_args(with_iss).is_ok());
    }

    #[test]
    fn a_frontend_dir_without_the_app_is_refused() {
        let empty = std::env::temp_dir().join("a-directory-with-no-app-in-it");
        let args = Args::parse_from([
            "origin",
            "--session-secret",
            "0123456789abcdef0123456789abcdef",
            "--grip-verify-key",
            "k",
            "--frontend-dir",
            empty.to_str().unwrap(),
        ]);
        let err = Config::from_args(args).err().unwrap();
        assert!(err.to_string().contains("FRONTEND_DIR"), "{err}");
    }
}
