//! What a process tree costs the machine, read from `/proc`: CPU time (user + system, from
//! `/proc/<pid>/stat`) and resident memory (`VmRSS`, from `/proc/<pid>/status`), summed over a
//! process and its descendants. Pushpin 1.36 is five processes (the runner and the condure,
//! zurl, proxy and handler it starts), so a figure "per Pushpin" has to add them up.

use std::collections::HashMap;
use std::time::Duration;

/// A process and everything it started, as found when the figures are read (Pushpin's runner
/// restarts nothing while a benchmark runs, so the tree is stable).
pub struct Tree {
    root: u32,
}

impl Tree {
    pub fn new(root: u32) -> Tree {
        Tree { root }
    }

    /// `root` and its descendants, found by each process's parent in `/proc/<pid>/stat`.
    pub fn pids(&self) -> Vec<u32> {
        let mut children: HashMap<u32, Vec<u32>> = HashMap::new();
        for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
            let Some(pid) = entry.file_name().to_str().and_then(|s| s.parse().ok()) else {
                continue;
            };
            if let Some(fields) = stat_fields(pid) {
                children.entry(fields.ppid).or_default().push(pid);
            }
        }
        let mut all = vec![self.root];
        let mut i = 0;
        while i < all.len() {
            all.extend(children.get(&all[i]).into_iter().flatten());
            i += 1;
        }
        all
    }

    /// CPU time (user + system) the tree has used since it started.
    pub fn cpu(&self) -> Duration {
        let ticks: u64 = self
            .pids()
            .into_iter()
            .filter_map(stat_fields)
            .map(|f| f.utime + f.stime)
            .sum();
        Duration::from_secs_f64(ticks as f64 / clock_ticks_per_second())
    }

    /// CPU time (user + system) of every thread of the tree, by process name and thread id:
    /// a process that runs its work on one thread (Pushpin's handler is one Qt event loop) is
    /// bounded by that thread, not by the tree's total.
    pub fn cpu_by_thread(&self) -> HashMap<(String, u32), Duration> {
        let mut threads = HashMap::new();
        for pid in self.pids() {
            let Some(name) = process_name(pid) else {
                continue;
            };
            let tasks = std::fs::read_dir(format!("/proc/{pid}/task"));
            for entry in tasks.into_iter().flatten().flatten() {
                let Some(tid) = entry.file_name().to_str().and_then(|s| s.parse().ok()) else {
                    continue;
                };
                if let Some(f) = stat_fields_at(&format!("/proc/{pid}/task/{tid}/stat")) {
                    let cpu = (f.utime + f.stime) as f64 / clock_ticks_per_second();
                    threads.insert((name.clone(), tid), Duration::from_secs_f64(cpu));
                }
            }
        }
        threads
    }

    /// Resident memory of the tree, in bytes.
    pub fn rss(&self) -> u64 {
        self.pids().into_iter().filter_map(rss_of).sum()
    }
}

/// The resident memory of one process (`VmRSS`), in bytes.
pub fn rss_of(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

struct StatFields {
    ppid: u32,
    utime: u64,
    stime: u64,
}

/// Fields 4 (ppid), 14 (utime) and 15 (stime) of `/proc/<pid>/stat`, counted after the
/// command name, which is in parentheses and may hold spaces.
fn stat_fields(pid: u32) -> Option<StatFields> {
    stat_fields_at(&format!("/proc/{pid}/stat"))
}

fn stat_fields_at(path: &str) -> Option<StatFields> {
    let stat = std::fs::read_to_string(path).ok()?;
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    Some(StatFields {
        ppid: fields.get(1)?.parse().ok()?,
        utime: fields.get(11)?.parse().ok()?,
        stime: fields.get(12)?.parse().ok()?,
    })
}

/// The process's name: its program's file name, from its command line (`comm` would cut it
/// at 15 bytes).
fn process_name(pid: u32) -> Option<String> {
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
    let first = cmdline.split(|b| *b == 0).next()?;
    let path = String::from_utf8_lossy(first);
    Some(path.rsplit('/').next()?.to_owned())
}

/// `sysconf(_SC_CLK_TCK)`: the unit of utime and stime. 100 on every Linux this runs on;
/// `getconf` is asked once in case it is not.
fn clock_ticks_per_second() -> f64 {
    static TICKS: std::sync::OnceLock<f64> = std::sync::OnceLock::new();
    *TICKS.get_or_init(|| {
        std::process::Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .ok()
            .and_then(|out| String::from_utf8(out.stdout).ok())
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(100.0)
    })
}
