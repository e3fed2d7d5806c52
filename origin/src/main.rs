//! The origin binary: see `origin::binary`.

#[tokio::main]
async fn main() -> std::process::ExitCode {
    origin::binary::main().await
}
