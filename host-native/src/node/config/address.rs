//! `host:port` addresses, checked when the file is read and resolved only when used.

use std::fmt;
use std::net::{IpAddr, Ipv6Addr};

/// A host name or IP address with a port; IPv6 addresses are written in brackets.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct HostPort {
    pub host: String,
    pub port: u16,
}

impl HostPort {
    /// Parse `host:port`; the error says what is wrong, quoting the text.
    pub fn parse(text: &str) -> Result<HostPort, String> {
        let not_host_port = || format!("{text:?} is not host:port");
        let (host, port) = if let Some(bracketed) = text.strip_prefix('[') {
            let (host, rest) = bracketed.split_once(']').ok_or_else(not_host_port)?;
            let port = rest.strip_prefix(':').ok_or_else(not_host_port)?;
            if host.parse::<Ipv6Addr>().is_err() {
                return Err(format!("{text:?}: {host:?} is not an IPv6 address"));
            }
            (host, port)
        } else {
            let (host, port) = text.rsplit_once(':').ok_or_else(not_host_port)?;
            if host.contains(':') {
                return Err(format!("{text:?}: write IPv6 addresses in brackets, as [{host}]:{port}"));
            }
            if !is_host_name(host) {
                return Err(format!("{text:?}: {host:?} is not a host name or IP address"));
            }
            (host, port)
        };
        let port = match port.parse::<u16>() {
            Ok(0) | Err(_) => return Err(format!("{text:?}: the port must be a number from 1 to 65535")),
            Ok(port) => port,
        };
        Ok(HostPort { host: host.to_string(), port })
    }

    /// `0.0.0.0` or `::`: fine to listen on, but nothing another machine can dial.
    pub fn is_unspecified(&self) -> bool {
        self.host.parse::<IpAddr>().is_ok_and(|ip| ip.is_unspecified())
    }

    /// The same socket however the host is capitalised.
    pub(super) fn same_socket(&self, other: &HostPort) -> bool {
        self.port == other.port && self.host.eq_ignore_ascii_case(&other.host)
    }
}

fn is_host_name(host: &str) -> bool {
    !host.is_empty()
        && host.len() <= 253
        && host.bytes().all(|byte| byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_'))
}

impl fmt::Display for HostPort {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.host.contains(':') {
            write!(f, "[{}]:{}", self.host, self.port)
        } else {
            write!(f, "{}:{}", self.host, self.port)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_and_ports_parse() {
        assert_eq!(HostPort::parse("127.0.0.1:7000"), Ok(HostPort { host: "127.0.0.1".into(), port: 7000 }));
        assert_eq!(HostPort::parse("node-1.example:1").unwrap().to_string(), "node-1.example:1");
        assert_eq!(HostPort::parse("[::1]:6379").unwrap(), HostPort { host: "::1".into(), port: 6379 });
        assert_eq!(HostPort::parse("[::1]:6379").unwrap().to_string(), "[::1]:6379");
        assert!(HostPort::parse("0.0.0.0:1").unwrap().is_unspecified());
        assert!(!HostPort::parse("localhost:1").unwrap().is_unspecified());
    }

    #[test]
    fn bad_addresses_say_why() {
        assert_eq!(HostPort::parse("localhost").unwrap_err(), r#""localhost" is not host:port"#);
        assert_eq!(HostPort::parse("[::1]").unwrap_err(), r#""[::1]" is not host:port"#);
        assert_eq!(HostPort::parse("h:0").unwrap_err(), r#""h:0": the port must be a number from 1 to 65535"#);
        assert_eq!(HostPort::parse("h:70000").unwrap_err(), r#""h:70000": the port must be a number from 1 to 65535"#);
        assert_eq!(HostPort::parse(":80").unwrap_err(), r#"":80": "" is not a host name or IP address"#);
        assert_eq!(HostPort::parse("a b:80").unwrap_err(), r#""a b:80": "a b" is not a host name or IP address"#);
        assert_eq!(
            HostPort::parse("::1:80").unwrap_err(),
            r#""::1:80": write IPv6 addresses in brackets, as [::1]:80"#
        );
        assert_eq!(HostPort::parse("[zz]:80").unwrap_err(), r#""[zz]:80": "zz" is not an IPv6 address"#);
    }
}
