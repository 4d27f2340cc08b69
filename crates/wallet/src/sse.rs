//! API v2 over Server-Sent Events, client side (docs/api-v2.md, "API v2 over Server-Sent Events"): a session created
//! with the bearer token, one event stream of server frames (reconnected with `Last-Event-ID` when it breaks), one
//! POST per client frame.

use std::time::Duration;

use serde_json::Value;

use crate::client::ClientError;

/// What the stream delivered.
#[derive(Debug)]
pub enum SseIncoming {
    /// A server frame (the JSON text of one `data:` event).
    Frame(String),
    /// The session ended (`event: close`) with this code.
    Close(u16),
}

/// Stream reconnections tried in a row before the client gives up.
const MAX_RECONNECTS: u32 = 5;

/// One SSE session with an engine.
pub struct SseTransport {
    http: reqwest::Client,
    origin: Option<String>,
    /// The session id (a capability: whoever has it can use the session).
    pub session_id: String,
    /// Absolute stream and message URLs.
    pub stream_url: String,
    /// Where client frames are posted.
    pub message_url: String,
    stream: Option<reqwest::Response>,
    buf: Vec<u8>,
    /// The id of the last event read (0: none); sent as `Last-Event-ID` when the stream is reopened.
    pub last_event_id: u64,
    /// Streams opened after the first one.
    pub reconnects: u32,
    /// Events whose id was not the one after the previous (a lost or repeated frame); 0 on a sound link.
    pub id_gaps: u32,
    /// Tests: drop the stream after every this many frames (a network that keeps cutting it).
    pub cut_every: Option<u32>,
    frames_on_stream: u32,
    failed_in_a_row: u32,
    closed: bool,
}

/// A refused request as the client reports it: `HTTP <status>: <body>`.
async fn refused(r: reqwest::Response) -> ClientError {
    let status = r.status().as_u16();
    let body = r.text().await.unwrap_or_default();
    ClientError::Transport(format!("HTTP {status}: {body}"))
}

impl SseTransport {
    /// Creates a session at `base_url` (`http://host:port`, the engine's root) with the bearer `token`, sending
    /// `origin` as `Origin` on every request when given, and opens its stream.
    pub async fn open(base_url: &str, token: &str, origin: Option<&str>) -> Result<SseTransport, ClientError> {
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .build()
            .map_err(|e| ClientError::Transport(e.to_string()))?;
        let base = base_url.trim_end_matches('/');
        let mut req = http
            .post(format!("{base}/api/v2/wallet/sse/session"))
            .bearer_auth(token);
        if let Some(o) = origin {
            req = req.header("origin", o);
        }
        let r = req.send().await.map_err(|e| ClientError::Transport(e.to_string()))?;
        if !r.status().is_success() {
            return Err(refused(r).await);
        }
        let v: Value = r.json().await.map_err(|e| ClientError::Protocol(e.to_string()))?;
        let field = |k: &str| {
            v[k].as_str()
                .map(str::to_string)
                .ok_or_else(|| ClientError::Protocol(format!("the session answer has no `{k}`")))
        };
        let mut t = SseTransport {
            http,
            origin: origin.map(str::to_string),
            session_id: field("session_id")?,
            stream_url: format!("{base}{}", field("stream_url")?),
            message_url: format!("{base}{}", field("message_url")?),
            stream: None,
            buf: Vec::new(),
            last_event_id: 0,
            reconnects: 0,
            id_gaps: 0,
            cut_every: None,
            frames_on_stream: 0,
            failed_in_a_row: 0,
            closed: false,
        };
        t.attach().await?;
        Ok(t)
    }

    fn request(&self, method: reqwest::Method, url: &str) -> reqwest::RequestBuilder {
        let req = self.http.request(method, url);
        match &self.origin {
            Some(o) => req.header("origin", o),
            None => req,
        }
    }

    /// Opens the stream from `last_event_id` on.
    async fn attach(&mut self) -> Result<(), ClientError> {
        let mut req = self
            .request(reqwest::Method::GET, &self.stream_url)
            .header("accept", "text/event-stream");
        if self.last_event_id > 0 {
            req = req.header("last-event-id", self.last_event_id.to_string());
        }
        let r = req.send().await.map_err(|e| ClientError::Transport(e.to_string()))?;
        if r.status() == reqwest::StatusCode::NOT_FOUND {
            // The session ended while no stream was attached.
            self.closed = true;
            return Err(ClientError::Closed(None));
        }
        if !r.status().is_success() {
            return Err(refused(r).await);
        }
        self.buf.clear();
        self.frames_on_stream = 0;
        self.stream = Some(r);
        Ok(())
    }

    /// Drops the current stream (a network cut, for tests); the next read reopens it with `Last-Event-ID`.
    pub fn cut_stream(&mut self) {
        self.stream = None;
    }

    /// Posts one client frame; anything but 202 is an error carrying the status and the JSON body.
    pub async fn send(&mut self, text: &str) -> Result<(), ClientError> {
        let r = self
            .request(reqwest::Method::POST, &self.message_url)
            .header("content-type", "application/json")
            .body(text.to_string())
            .send()
            .await
            .map_err(|e| ClientError::Transport(e.to_string()))?;
        if r.status() != reqwest::StatusCode::ACCEPTED {
            return Err(refused(r).await);
        }
        Ok(())
    }

    /// One complete event from the buffer, if there is one.
    fn take_event(&mut self) -> Option<Option<SseIncoming>> {
        // walletd ends lines with LF only.
        let end = self.buf.windows(2).position(|w| w == b"\n\n")?;
        let event = String::from_utf8_lossy(&self.buf[..end]).into_owned();
        self.buf.drain(..end + 2);
        let (mut name, mut data, mut id) = (String::new(), Vec::new(), None);
        for line in event.lines() {
            let (field, value) = line.split_once(':').unwrap_or((line, ""));
            let value = value.strip_prefix(' ').unwrap_or(value);
            match field {
                "event" => name = value.to_string(),
                "data" => data.push(value.to_string()),
                "id" => id = value.parse::<u64>().ok(),
                _ => {}
            }
        }
        if let Some(id) = id {
            if id != self.last_event_id + 1 {
                self.id_gaps += 1;
            }
            self.last_event_id = id;
        }
        if data.is_empty() {
            return Some(None);
        }
        let data = data.join("\n");
        if name == "close" {
            let code = serde_json::from_str::<Value>(&data)
                .ok()
                .and_then(|v| v["code"].as_u64())
                .and_then(|c| u16::try_from(c).ok())
                .unwrap_or(1000);
            self.closed = true;
            return Some(Some(SseIncoming::Close(code)));
        }
        self.frames_on_stream += 1;
        if self.cut_every.is_some_and(|n| self.frames_on_stream >= n) {
            self.cut_stream();
        }
        Some(Some(SseIncoming::Frame(data)))
    }

    /// The next frame or close. `None` when the session is gone without a close event (or after one). Reopens a
    /// broken stream with `Last-Event-ID`. Cancel safe.
    pub async fn next(&mut self) -> Option<Result<SseIncoming, ClientError>> {
        loop {
            while let Some(event) = self.take_event() {
                if let Some(e) = event {
                    return Some(Ok(e));
                }
            }
            if self.closed {
                return None;
            }
            let Some(stream) = self.stream.as_mut() else {
                if self.failed_in_a_row >= MAX_RECONNECTS {
                    return Some(Err(ClientError::Transport("the event stream keeps failing".into())));
                }
                tokio::time::sleep(Duration::from_millis(50 * u64::from(self.failed_in_a_row))).await;
                self.failed_in_a_row += 1;
                self.reconnects += 1;
                match self.attach().await {
                    Ok(()) => continue,
                    Err(ClientError::Closed(_)) => return None,
                    Err(ClientError::Transport(e)) if e.starts_with("HTTP ") => {
                        return Some(Err(ClientError::Transport(e)));
                    }
                    Err(_) => continue,
                }
            };
            match stream.chunk().await {
                Ok(Some(bytes)) => {
                    self.failed_in_a_row = 0;
                    self.buf.extend_from_slice(&bytes);
                }
                // The stream ended or broke: reopen it.
                Ok(None) | Err(_) => self.stream = None,
            }
        }
    }
}
