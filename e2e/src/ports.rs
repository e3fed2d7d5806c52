//! Free TCP ports on 127.0.0.1, so that parallel tests never share a port.

use std::net::TcpListener;

/// Returns a TCP port on 127.0.0.1 that was free a moment ago.
///
/// The kernel picks the port (bind to port 0); we release it at once so the real server can bind
/// it. Another process could grab it in between, but the kernel hands out ephemeral ports round
/// robin, so a port just returned is the last one it will offer again.
pub fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    listener
        .local_addr()
        .expect("local_addr of a bound socket")
        .port()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn free_port_can_be_bound_again() {
        let port = free_port();
        assert_ne!(port, 0);
        TcpListener::bind(("127.0.0.1", port)).expect("the port we were given is bindable");
    }
}
