//! Free TCP ports on 127.0.0.1, so that parallel tests never share a port.

use std::collections::HashSet;
use std::net::TcpListener;
use std::sync::Mutex;

/// Returns a TCP port on 127.0.0.1 that was free a moment ago and that this process has never
/// handed out before.
///
/// The kernel picks the port (bind to port 0) and we release it at once so the real server can
/// bind it. Until that server binds, the kernel may offer the same port again; the tests of one
/// binary run in parallel and each stack takes several ports, so without the record kept here
/// two stacks could be given one port, and a health check could be answered by the other stack's
/// server. Another process could still take the port in between; that one we cannot prevent.
pub fn free_port() -> u16 {
    static GIVEN: Mutex<Option<HashSet<u16>>> = Mutex::new(None);
    let mut given = GIVEN
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let given = given.get_or_insert_with(HashSet::new);
    loop {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        let port = listener
            .local_addr()
            .expect("local_addr of a bound socket")
            .port();
        if given.insert(port) {
            return port;
        }
    }
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

    #[test]
    fn no_port_is_handed_out_twice() {
        let ports: Vec<u16> = (0..2_000).map(|_| free_port()).collect();
        let distinct: HashSet<u16> = ports.iter().copied().collect();
        assert_eq!(distinct.len(), ports.len());
    }
}
