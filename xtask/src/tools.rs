//! Installs the tools a command needs ([`toolchain::TOOLS`]), each only when it is missing or
//! the wrong version, and says what is there: one line per tool, and before each install what
//! it usually costs.

use std::time::Instant;

use toolchain::{Source, TOOLS, Task};

use crate::steps::{Result, Timings, show, workspace_root};

/// Makes sure every tool `task` needs is present, installing what is not.
pub fn ensure(task: Task, timings: &mut Timings) -> Result {
    let root = workspace_root();
    let started = Instant::now();
    println!("\n==> tools");
    let mut apt_updated = false;
    for tool in TOOLS.iter().filter(|tool| tool.needed_for(task)) {
        let why = match tool.probe(&root) {
            Ok(label) => {
                println!("    {label}: present");
                continue;
            }
            Err(why) => why,
        };
        println!(
            "    {}: {why}; installing, usually {}",
            tool.name, tool.cost
        );
        let tool_started = Instant::now();
        let mut commands = tool
            .install(&root)
            .map_err(|err| format!("install {}: {err}", tool.name))?;
        if matches!(tool.source, Source::Apt { .. }) && !apt_updated {
            commands.insert(0, toolchain::apt(&["update"], &[]));
            apt_updated = true;
        }
        for mut cmd in commands {
            let shown = show(&cmd);
            println!("    $ {shown}");
            let status = cmd
                .status()
                .map_err(|err| format!("install {}: could not run `{shown}`: {err}", tool.name))?;
            if !status.success() {
                return Err(format!(
                    "install {}: `{shown}` ended with {status}{}",
                    tool.name,
                    advice(&tool.source)
                ));
            }
        }
        let label = tool
            .probe(&root)
            .map_err(|why| format!("{} is still unusable after installing it: {why}", tool.name))?;
        timings.done(&format!("install {}", tool.name), tool_started);
        println!("    {label}: installed");
    }
    println!(
        "    tools: ready in {}",
        crate::steps::human(started.elapsed())
    );
    Ok(())
}

/// What to do when an install fails, where the cause is usually outside the project.
fn advice(source: &Source) -> &'static str {
    match source {
        Source::Apt { .. } => {
            " (without apt-get or sudo, install the package with your system's package manager)"
        }
        Source::Npm { .. } => " (the npm registry must be reachable and `npm` installed)",
        Source::RustTarget(_) => " (targets come with rustup: https://rustup.rs)",
        Source::Cargo { .. } => "",
    }
}

/// `cargo xtask doctor`: every tool, whether it is here, which commands need it, and what
/// installing the missing ones costs.
pub fn doctor() -> Result {
    let root = workspace_root();
    let rustc = toolchain::output(std::process::Command::new("rustc").arg("--version"));
    println!("{}", rustc.as_deref().unwrap_or("rustc: not found").trim());
    println!("\n| tool | installed | needed by | cost to install |\n| --- | --- | --- | --- |");
    let mut missing = Vec::new();
    for tool in TOOLS {
        let state = tool.probe(&root).unwrap_or_else(|why| {
            missing.push(tool);
            format!("**missing**: {why}")
        });
        let needed_by: Vec<_> = tool
            .needed_by
            .iter()
            .map(|task| format!("{task:?}").to_lowercase())
            .collect();
        println!(
            "| {} | {state} | {} | {} |",
            tool.name,
            needed_by.join(", "),
            tool.cost
        );
    }
    if missing.is_empty() {
        println!(
            "\nEverything is installed: `cargo xtask dev` and `cargo xtask test` start building at once."
        );
    } else {
        for task in [Task::Dev, Task::Test] {
            let names: Vec<_> = missing
                .iter()
                .filter(|tool| tool.needed_for(task))
                .map(|tool| tool.name)
                .collect();
            println!(
                "\n`cargo xtask {}` would install: {}",
                format!("{task:?}").to_lowercase(),
                if names.is_empty() {
                    "nothing".to_owned()
                } else {
                    names.join(", ")
                }
            );
        }
    }
    Ok(())
}
