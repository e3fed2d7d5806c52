//! The Compute entry point: everything it does is in `edge::compute` (the glue, tested in
//! Viceroy) and `edge::decide` (the decision, tested on the host).

#[cfg(target_arch = "wasm32")]
fn main() {
    edge::compute::serve(fastly::Request::from_client());
}

/// On the host there is no Compute runtime: build the wasm and run it in Viceroy instead.
#[cfg(not(target_arch = "wasm32"))]
fn main() {
    eprintln!("edge: build with `--target wasm32-wasip1` and run it in Viceroy or on Compute");
    std::process::exit(2);
}
