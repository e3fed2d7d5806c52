//! The origin binary, built again inside the e2e package so that cargo rebuilds it for the e2e
//! tests that run the origin as a process of its own and `kill -9` it (they find it through
//! `CARGO_BIN_EXE_e2e-origin`, which cargo sets only for binaries of the package under test).

#[tokio::main]
async fn main() -> std::process::ExitCode {
    origin::binary::main().await
}
