//! Free TCP ports on 127.0.0.1, so that parallel tests never share a port.

use std::collections::HashSet;
use std::net::TcpListener;
use std::sync::Mutex;

/// The lowest port handed out. Below it are the well-known services a developer's machine may
/// run (databases, dev servers on 3000, 5432, 8080, …).
const LOWEST: u16 = 20_000;

/// Returns a TCP port on 127.0.0.1 that was free a moment ago and that this process has never
/// handed out before.
///
/// The port comes from below the kernel's ephemeral range (`ip_local_port_range`): the kernel
/// never picks those by itself, neither for a `bind` to port 0 nor as the source port of an
/// outgoing connection. A port it had picked (bind to port 0, then release it for the real
/// server) could be taken in between by any test's outgoing connection: Pushpin once failed to
/// start with "failed to bind …: Address already in use". The tests of one binary run in
/// parallel and each stack takes several ports, so this process also never hands out a port
/// twice. Another process could still take the port in between; that one we cannot prevent.
pub fn free_port() -> u16 {
    struct Given {
        ports: HashSet<u16>,
        next: u16,
    }
    static GIVEN: Mutex<Option<Given>> = Mutex::new(None);
    let mut given = GIVEN
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let end = ephemeral_start();
    let span = end - LOWEST;
    let given = given.get_or_insert_with(|| Given {
        ports: HashSet::new(),
        // Test binaries that run at once start at different places.
        next: (std::process::id() % u32::from(span)) as u16,
    });
    for _ in 0..span {
        let port = LOWEST + given.next % span;
        given.next = (given.next + 1) % span;
        if !given.ports.contains(&port) && TcpListener::bind(("127.0.0.1", port)).is_ok() {
            given.ports.insert(port);
            return port;
        }
    }
    panic!("no free TCP port on 127.0.0.1 between {LOWEST} and {end}");
}

/// The first port of the kernel's ephemeral range (Linux: 32768 unless configured otherwise).
fn ephemeral_start() -> u16 {
    std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|range| range.split_whitespace().next()?.parse().ok())
        .filter(|&start| start > LOWEST + 1_000)
        .unwrap_or(32_768)
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
    fn ports_come_from_below_the_ephemeral_range() {
        let port = free_port();
        assert!((LOWEST..ephemeral_start()).contains(&port), "{port}");
    }

    #[test]
    fn no_port_is_handed_out_twice() {
        let ports: Vec<u16> = (0..2_000).map(|_| free_port()).collect();
        let distinct: HashSet<u16> = ports.iter().copied().collect();
        assert_eq!(distinct.len(), ports.len());
    }
}
