//! What a member's admin endpoint says about it (`GET /status`), read over plain
//! HTTP/1.1 as an operator's script would.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use serde_json::Value;

const TIMEOUT: Duration = Duration::from_secs(2);

/// The parts of a member's status the chaos test compares.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MemberStatus {
    pub status: String,
    pub view: u64,
    pub commit: u64,
    pub is_primary: bool,
    pub cluster_release: String,
    pub binary_release: String,
    /// (active, standbys), as the member's committed configuration lists them.
    pub membership: (Vec<u64>, Vec<u64>),
    /// Why the member's storage stopped, if it did.
    pub storage_failed: Option<String>,
    /// The archived release whose real code runs the member, if one does.
    pub archived_core: Option<String>,
    /// Linearizable reads it answered by read_index (no log entry).
    pub reads_by_index: u64,
}

pub fn status(address: SocketAddr) -> Result<MemberStatus, String> {
    let json = get_json(address, "/status")?;
    parse_status(&json).ok_or_else(|| format!("{address}/status lacks a field the chaos test reads: {json}"))
}

fn parse_status(json: &Value) -> Option<MemberStatus> {
    let ids = |value: &Value| -> Option<Vec<u64>> { value.as_array()?.iter().map(Value::as_u64).collect() };
    Some(MemberStatus {
        status: json["status"].as_str()?.to_string(),
        view: json["view"].as_u64()?,
        commit: json["commit"].as_u64()?,
        is_primary: json["is_primary"].as_bool()?,
        cluster_release: json["cluster_release"].as_str()?.to_string(),
        binary_release: json["binary_release"].as_str()?.to_string(),
        membership: (ids(&json["membership"]["active"])?, ids(&json["membership"]["standbys"])?),
        storage_failed: json["storage"]["failed"].as_str().map(str::to_string),
        archived_core: json["archived_core"].as_str().map(str::to_string),
        reads_by_index: json["counters"]["reads_by_index"].as_u64().unwrap_or(0),
    })
}

pub fn get_json(address: SocketAddr, path: &str) -> Result<Value, String> {
    let failed = |error: std::io::Error| format!("GET {address}{path}: {error}");
    let mut stream = TcpStream::connect_timeout(&address, TIMEOUT).map_err(failed)?;
    stream.set_read_timeout(Some(TIMEOUT)).map_err(failed)?;
    stream.set_write_timeout(Some(TIMEOUT)).map_err(failed)?;
    write!(stream, "GET {path} HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\r\n").map_err(failed)?;
    let mut answer = Vec::new();
    stream.take(16 << 20).read_to_end(&mut answer).map_err(failed)?;
    let text = String::from_utf8_lossy(&answer);
    let (head, body) = text.split_once("\r\n\r\n").ok_or_else(|| format!("GET {address}{path}: no HTTP answer"))?;
    if !head.starts_with("HTTP/1.1 200") {
        return Err(format!("GET {address}{path}: {}", head.lines().next().unwrap_or("")));
    }
    serde_json::from_str(body).map_err(|error| format!("GET {address}{path}: the body is not JSON ({error})"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_status_document_reads() {
        let json: Value = serde_json::from_str(
            r#"{"status":"normal","view":3,"commit":8,"is_primary":true,"cluster_release":"1.3.0","binary_release":"1.3.0",
                "membership":{"active":[0,1,2],"removed":[],"standbys":[3]},"storage":{"failed":null}}"#,
        )
        .unwrap();
        let status = parse_status(&json).unwrap();
        assert_eq!(status.membership, (vec![0, 1, 2], vec![3]));
        assert_eq!((status.view, status.commit, status.storage_failed), (3, 8, None));
        assert_eq!((status.archived_core, status.reads_by_index), (None, 0));
        let mut archived = json.clone();
        archived["archived_core"] = "1.3.0".into();
        archived["counters"] = serde_json::json!({"reads_by_index": 5});
        let status = parse_status(&archived).unwrap();
        assert_eq!((status.archived_core.as_deref(), status.reads_by_index), (Some("1.3.0"), 5));
        assert!(parse_status(&serde_json::json!({"status": "normal"})).is_none());
    }
}
