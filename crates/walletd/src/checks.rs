//! Readiness checks of dependencies that are not the relational database.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// An HTTP client for operator-configured dependencies (registry, PDP): trusted URLs, so no egress guard, but never
/// an environment proxy and always a timeout.
pub fn dependency_client(timeout: Duration) -> reqwest::Client {
    walletd_egress::tls::http_client_builder()
        .and_then(|b| b.timeout(timeout).build().map_err(Into::into))
        .expect("a reqwest client with static settings builds (the TLS roots were checked at start-up)")
}

/// `Ok` when `url` answers 2xx.
pub async fn http_ok(client: &reqwest::Client, url: url::Url) -> Result<(), String> {
    match client.get(url).send().await {
        Ok(r) if r.status().is_success() => Ok(()),
        Ok(r) => Err(format!("answered {}", r.status().as_u16())),
        Err(e) if e.is_timeout() => Err("timed out".into()),
        Err(_) => Err("unreachable".into()),
    }
}

/// Sends a RESP `PING` to the Redis server of `url` and expects `+PONG`. Enough for readiness; the caches that use
/// Redis bring their own client.
pub async fn redis_ping(url: &str) -> Result<(), String> {
    let parsed = url::Url::parse(url).map_err(|_| "invalid redis URL".to_string())?;
    let host = parsed.host_str().ok_or("redis URL has no host")?.to_string();
    let port = parsed.port().unwrap_or(6379);
    let mut stream = tokio::net::TcpStream::connect((host.as_str(), port))
        .await
        .map_err(|_| "unreachable".to_string())?;
    let mut request = Vec::new();
    if let Some(password) = parsed.password() {
        let password = percent_encoding::percent_decode_str(password)
            .decode_utf8_lossy()
            .into_owned();
        let user = parsed.username();
        let mut args = vec!["AUTH"];
        if !user.is_empty() {
            args.push(user);
        }
        args.push(&password);
        request.extend(resp_command(&args));
    }
    request.extend(resp_command(&["PING"]));
    stream
        .write_all(&request)
        .await
        .map_err(|_| "write failed".to_string())?;
    let mut buf = [0u8; 64];
    let n = stream.read(&mut buf).await.map_err(|_| "read failed".to_string())?;
    let mut reply = &buf[..n];
    if parsed.password().is_some() {
        // The AUTH reply comes first: `+OK` then PING's answer (possibly in a later read).
        if !reply.starts_with(b"+OK\r\n") {
            return Err("authentication failed".into());
        }
        reply = &reply[5..];
        if reply.is_empty() {
            let n = stream.read(&mut buf).await.map_err(|_| "read failed".to_string())?;
            reply = &buf[..n];
        }
    }
    if reply.starts_with(b"+PONG") {
        Ok(())
    } else if reply.starts_with(b"-NOAUTH") {
        Err("authentication required".into())
    } else {
        Err("unexpected reply".into())
    }
}

/// Encodes a command as a RESP array of bulk strings.
fn resp_command(args: &[&str]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", args.len()).into_bytes();
    for a in args {
        out.extend(format!("${}\r\n", a.len()).into_bytes());
        out.extend(a.as_bytes());
        out.extend(b"\r\n");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resp_encoding() {
        assert_eq!(resp_command(&["PING"]), b"*1\r\n$4\r\nPING\r\n");
        assert_eq!(resp_command(&["AUTH", "pw"]), b"*2\r\n$4\r\nAUTH\r\n$2\r\npw\r\n");
    }
}
