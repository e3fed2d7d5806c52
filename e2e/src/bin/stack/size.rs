//! `stack size`: the browser app's download size, as `cargo xtask size` and `bench` report it: every file of
//! `frontend/dist` raw, gzip -9 and brotli q11, the total against the 73 KB brotli goal, and the
//! wasm before wasm-opt (trunk's intermediate file) as the baseline of the same build.

use std::io::Write as _;
use std::path::Path;

use anyhow::Context as _;

/// Brotli goal for the whole frontend (issue 4; the js-framework-benchmark's Leptos entry is
/// 48.8 KB).
const GOAL_BROTLI: usize = 73 * 1024;

struct Sizes {
    raw: usize,
    gzip: usize,
    brotli: usize,
}

fn sizes(path: &Path) -> anyhow::Result<Sizes> {
    let bytes = std::fs::read(path).with_context(|| format!("read {}", path.display()))?;
    let mut gzip = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    gzip.write_all(&bytes)?;
    let gzip = gzip.finish()?.len();
    let mut brotli = Vec::new();
    let params = brotli::enc::BrotliEncoderParams {
        quality: 11,
        lgwin: 22,
        ..Default::default()
    };
    brotli::BrotliCompress(&mut bytes.as_slice(), &mut brotli, &params)?;
    Ok(Sizes {
        raw: bytes.len(),
        gzip,
        brotli: brotli.len(),
    })
}

fn kb(bytes: usize) -> String {
    format!("{:.1} KB", bytes as f64 / 1024.0)
}

pub fn report(root: &Path) -> anyhow::Result<()> {
    let dist = root.join("frontend/dist");
    let mut files: Vec<_> = std::fs::read_dir(&dist)
        .with_context(|| format!("{} is missing: build the frontend first", dist.display()))?
        .collect::<Result<Vec<_>, _>>()?;
    files.sort_by_key(|entry| entry.file_name());
    println!("\n## frontend download size (frontend/dist, release)");
    println!("| file | raw | gzip -9 | brotli 11 |\n| --- | ---: | ---: | ---: |");
    let mut total = Sizes {
        raw: 0,
        gzip: 0,
        brotli: 0,
    };
    for entry in files {
        let size = sizes(&entry.path())?;
        println!(
            "| {} | {} | {} | {} |",
            entry.file_name().to_string_lossy(),
            kb(size.raw),
            kb(size.gzip),
            kb(size.brotli)
        );
        total.raw += size.raw;
        total.gzip += size.gzip;
        total.brotli += size.brotli;
    }
    println!(
        "| **total** | {} | {} | **{}** |",
        kb(total.raw),
        kb(total.gzip),
        kb(total.brotli)
    );
    println!(
        "total brotli: {:.2}× the {} goal",
        total.brotli as f64 / GOAL_BROTLI as f64,
        kb(GOAL_BROTLI)
    );
    // Baseline: the same build's wasm before wasm-opt.
    let unoptimised = root.join("target/wasm-bindgen/release/frontend_bg.wasm");
    if unoptimised.is_file() {
        let before = sizes(&unoptimised)?;
        println!(
            "wasm before wasm-opt: {} raw, {} brotli (wasm-opt -Oz keeps {:.2}× of the brotli size)",
            kb(before.raw),
            kb(before.brotli),
            total_wasm_brotli(&dist)? as f64 / before.brotli as f64
        );
    }
    Ok(())
}

fn total_wasm_brotli(dist: &Path) -> anyhow::Result<usize> {
    let mut total = 0;
    for entry in std::fs::read_dir(dist)? {
        let path = entry?.path();
        if path.extension().is_some_and(|ext| ext == "wasm") {
            total += sizes(&path)?.brotli;
        }
    }
    Ok(total)
}
