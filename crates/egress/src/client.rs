//! [`EgressClient`]: ties policy, resolver, pinning, redirects and body limits together.

use std::net::IpAddr;
use std::sync::Arc;

use bytes::Bytes;
use reqwest::header::{self, HeaderMap, HeaderName, HeaderValue};
use reqwest::{Method, StatusCode};
use serde::Serialize;
use serde::de::DeserializeOwned;
use url::Url;

use crate::body::{METADATA_MAX_BYTES, read_limited};
use crate::config::EgressConfig;
use crate::error::{EgressError, Rule, TimeoutKind, record};
use crate::pin::{PinGuard, PinTable, PinnedDns};
use crate::policy::{Destination, Policy};
use crate::redirect::{is_redirect, next_hop};
use crate::resolver::{GuardResolver, HickoryResolver, SystemResolver};

/// Headers that carry credentials: sent only to the origin of the call's first request.
const CREDENTIAL_HEADERS: [HeaderName; 3] = [header::AUTHORIZATION, header::COOKIE, header::PROXY_AUTHORIZATION];

/// The guarded HTTP client. Cheap to clone (shares one connection pool).
#[derive(Clone)]
pub struct EgressClient {
    inner: Arc<Inner>,
}

struct Inner {
    cfg: EgressConfig,
    policy: Policy,
    resolver: Arc<dyn GuardResolver>,
    pins: Arc<PinTable>,
    http: reqwest::Client,
}

impl std::fmt::Debug for EgressClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EgressClient")
            .field("cfg", &self.inner.cfg)
            .finish_non_exhaustive()
    }
}

impl EgressClient {
    /// Builds the client with the production resolver (hickory on the system DNS configuration; getaddrinfo if
    /// hickory cannot read it).
    pub fn new(cfg: EgressConfig) -> Result<Self, EgressError> {
        let resolver: Arc<dyn GuardResolver> = match HickoryResolver::from_system_conf(cfg.connect_timeout) {
            Ok(r) => Arc::new(r),
            Err(e) => {
                tracing::warn!("egress: hickory cannot read the system DNS configuration ({e}); using getaddrinfo");
                Arc::new(SystemResolver)
            }
        };
        Self::with_resolver(cfg, resolver)
    }

    /// Builds the client with a given resolver (tests, development name tables, embedding applications).
    pub fn with_resolver(cfg: EgressConfig, resolver: Arc<dyn GuardResolver>) -> Result<Self, EgressError> {
        cfg.validate().map_err(EgressError::Config)?;
        let pins = Arc::new(PinTable::default());
        let http = crate::tls::http_client_builder()
            .map_err(|e| EgressError::Config(e.to_string()))?
            .redirect(reqwest::redirect::Policy::none())
            .referer(false)
            .connect_timeout(cfg.connect_timeout)
            .dns_resolver(Arc::new(PinnedDns(Arc::clone(&pins))))
            .user_agent(cfg.user_agent.clone())
            .build()
            .map_err(|e| EgressError::Config(format!("HTTP client: {e}")))?;
        Ok(Self {
            inner: Arc::new(Inner {
                policy: Policy::new(&cfg),
                cfg,
                resolver,
                pins,
                http,
            }),
        })
    }

    /// The configuration in force.
    pub fn config(&self) -> &EgressConfig {
        &self.inner.cfg
    }

    /// The compiled policy (pure checks, no I/O).
    pub fn policy(&self) -> &Policy {
        &self.inner.policy
    }

    /// Starts a request. The body limit defaults to [`METADATA_MAX_BYTES`].
    pub fn request(&self, method: Method, url: impl Into<String>) -> EgressRequest<'_> {
        EgressRequest {
            client: self,
            method,
            url: url.into(),
            headers: HeaderMap::new(),
            body: None,
            max_bytes: METADATA_MAX_BYTES,
            follow_redirects: true,
            error: None,
        }
    }

    /// `GET url`, body cut at `max_bytes`.
    pub async fn get(&self, url: &str, max_bytes: usize) -> Result<EgressResponse, EgressError> {
        self.request(Method::GET, url).max_bytes(max_bytes).send().await
    }

    /// `POST url` with an `application/x-www-form-urlencoded` body.
    pub async fn post_form(
        &self,
        url: &str,
        form: &[(&str, &str)],
        max_bytes: usize,
    ) -> Result<EgressResponse, EgressError> {
        self.request(Method::POST, url)
            .form(form)
            .max_bytes(max_bytes)
            .send()
            .await
    }

    /// `POST url` with a JSON body.
    pub async fn post_json<T: Serialize + ?Sized>(
        &self,
        url: &str,
        json: &T,
        max_bytes: usize,
    ) -> Result<EgressResponse, EgressError> {
        self.request(Method::POST, url)
            .json(json)
            .max_bytes(max_bytes)
            .send()
            .await
    }

    /// Runs every check a request to `url` would run (scheme, URL, resolution once, every address) without
    /// connecting. Returns the parsed URL and the checked addresses (for logs only: never show them to clients).
    pub async fn check(&self, url: &str) -> Result<(Url, Vec<IpAddr>), EgressError> {
        let res = async {
            let (url, dest) = self.inner.policy.check_url_str(url)?;
            let addrs = match dest {
                Destination::Ip(ip) => vec![ip],
                Destination::Name(host) => self.resolve_checked(&host).await?,
            };
            Ok((url, addrs))
        };
        let res = match tokio::time::timeout(self.inner.cfg.total_timeout, res).await {
            Ok(r) => r,
            Err(_) => Err(EgressError::Timeout(TimeoutKind::Total)),
        };
        if let Err(e) = &res {
            record(e);
        }
        res
    }

    /// Resolves `host` once and checks every address.
    async fn resolve_checked(&self, host: &str) -> Result<Vec<IpAddr>, EgressError> {
        let addrs = self.inner.resolver.resolve(host).await.map_err(EgressError::Resolve)?;
        if addrs.is_empty() {
            return Err(EgressError::Resolve("name has no addresses".into()));
        }
        for ip in &addrs {
            self.inner.policy.check_ip(*ip).map_err(EgressError::Blocked)?;
        }
        Ok(addrs)
    }

    /// Checks `url` (already parsed) and, for names, pins the checked addresses for the connection.
    async fn prepare_hop(&self, url: &Url) -> Result<Option<PinGuard>, EgressError> {
        match self.inner.policy.check_url(url)? {
            Destination::Ip(_) => Ok(None),
            Destination::Name(host) => {
                let addrs = self.resolve_checked(&host).await?;
                Ok(Some(self.inner.pins.pin(&host, addrs)))
            }
        }
    }
}

/// A request being built; see [`EgressClient::request`].
#[must_use = "a request does nothing until `send` is awaited"]
pub struct EgressRequest<'a> {
    client: &'a EgressClient,
    method: Method,
    url: String,
    headers: HeaderMap,
    body: Option<Bytes>,
    max_bytes: usize,
    follow_redirects: bool,
    error: Option<EgressError>,
}

impl EgressRequest<'_> {
    /// Adds a header. `Host` is ignored (the URL decides the host). `Authorization`, `Cookie` and
    /// `Proxy-Authorization` are sent only to the origin of the first request.
    pub fn header<K, V>(mut self, key: K, value: V) -> Self
    where
        HeaderName: TryFrom<K>,
        HeaderValue: TryFrom<V>,
    {
        match (HeaderName::try_from(key), HeaderValue::try_from(value)) {
            (Ok(k), Ok(v)) => {
                if k != header::HOST {
                    self.headers.append(k, v);
                }
            }
            _ => self.error = Some(EgressError::InvalidUrl("invalid request header".into())),
        }
        self
    }

    /// Sets `Authorization: Bearer <token>` (never forwarded across origins).
    pub fn bearer_auth(self, token: &str) -> Self {
        self.header(header::AUTHORIZATION, format!("Bearer {token}"))
    }

    /// Sets a raw body.
    pub fn body(mut self, body: impl Into<Bytes>) -> Self {
        self.body = Some(body.into());
        self
    }

    /// Sets a JSON body and `Content-Type: application/json`.
    pub fn json<T: Serialize + ?Sized>(mut self, value: &T) -> Self {
        match serde_json::to_vec(value) {
            Ok(v) => {
                self.headers
                    .insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
                self.body = Some(v.into());
            }
            Err(e) => self.error = Some(EgressError::http("request body could not be serialised", e)),
        }
        self
    }

    /// Sets an `application/x-www-form-urlencoded` body.
    pub fn form(mut self, pairs: &[(&str, &str)]) -> Self {
        let encoded = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(pairs)
            .finish();
        self.headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/x-www-form-urlencoded"),
        );
        self.body = Some(encoded.into());
        self
    }

    /// Maximum size of the (decompressed) response body; default [`METADATA_MAX_BYTES`].
    pub fn max_bytes(mut self, n: usize) -> Self {
        self.max_bytes = n;
        self
    }

    /// Whether to follow redirects (default true, at most `egress.max_redirects`). When false, a 3xx response is
    /// returned as is.
    pub fn follow_redirects(mut self, follow: bool) -> Self {
        self.follow_redirects = follow;
        self
    }

    /// Sends the request under the total deadline. Blocked calls are counted in the metric.
    pub async fn send(self) -> Result<EgressResponse, EgressError> {
        let total = self.client.inner.cfg.total_timeout;
        let res = match tokio::time::timeout(total, self.run()).await {
            Ok(r) => r,
            Err(_) => Err(EgressError::Timeout(TimeoutKind::Total)),
        };
        if let Err(e) = &res {
            record(e);
        }
        res
    }

    async fn run(mut self) -> Result<EgressResponse, EgressError> {
        if let Some(e) = self.error.take() {
            return Err(e);
        }
        let client = self.client;
        let policy = &client.inner.policy;
        let max_redirects = client.inner.cfg.max_redirects;
        let (mut url, _) = policy.check_url_str(&self.url)?;
        let first_origin = url.origin();
        let mut method = self.method;
        let mut body = self.body;
        let mut headers = self.headers;
        let mut credentials = true;
        let mut redirects = 0u32;
        loop {
            let pin = client.prepare_hop(&url).await?;
            let mut hop_headers = headers.clone();
            if !credentials {
                for h in &CREDENTIAL_HEADERS {
                    hop_headers.remove(h);
                }
            }
            let mut rb = client
                .inner
                .http
                .request(method.clone(), url.clone())
                .headers(hop_headers);
            if let Some(b) = &body {
                rb = rb.body(b.clone());
            }
            let resp = rb.send().await.map_err(map_send_error)?;
            drop(pin);
            let status = resp.status();
            let location = resp.headers().get(header::LOCATION).cloned();
            if let (true, true, Some(location)) = (self.follow_redirects, is_redirect(status), location) {
                if redirects >= max_redirects {
                    return Err(EgressError::Blocked(Rule::RedirectLimit(max_redirects)));
                }
                let location = location
                    .to_str()
                    .map_err(|_| EgressError::InvalidUrl("redirect Location is not valid text".into()))?;
                let hop = next_hop(policy, &url, &method, status, location, body.is_some(), &first_origin)?;
                redirects += 1;
                url = hop.url;
                method = hop.method;
                credentials = hop.keep_credentials;
                if !hop.keep_body && body.take().is_some() {
                    headers.remove(header::CONTENT_TYPE);
                }
                continue;
            }
            let resp_headers = resp.headers().clone();
            let bytes = read_limited(resp, self.max_bytes).await?;
            return Ok(EgressResponse {
                status,
                headers: resp_headers,
                body: bytes,
                final_url: url,
                redirects,
            });
        }
    }
}

fn map_send_error(e: reqwest::Error) -> EgressError {
    if e.is_timeout() {
        if e.is_connect() {
            EgressError::Timeout(TimeoutKind::Connect)
        } else {
            EgressError::Timeout(TimeoutKind::Total)
        }
    } else if e.is_connect() {
        EgressError::http("connection failed", e)
    } else {
        EgressError::http("request failed", e)
    }
}

/// A complete response: status, headers, the whole (bounded, decompressed) body and where it came from.
#[derive(Debug, Clone)]
pub struct EgressResponse {
    /// Status of the last hop.
    pub status: StatusCode,
    /// Headers of the last hop (`Content-Encoding`/`Content-Length` are removed when the body was decompressed).
    pub headers: HeaderMap,
    /// The body, at most the call's `max_bytes`.
    pub body: Bytes,
    /// The URL of the last hop (after redirects).
    pub final_url: Url,
    /// Number of redirects followed.
    pub redirects: u32,
}

impl EgressResponse {
    /// Fails with [`EgressError::Status`] unless the status is 2xx.
    pub fn error_for_status(self) -> Result<Self, EgressError> {
        if self.status.is_success() {
            Ok(self)
        } else {
            Err(EgressError::Status(self.status))
        }
    }

    /// Parses the body as JSON.
    pub fn json<T: DeserializeOwned>(&self) -> Result<T, serde_json::Error> {
        serde_json::from_slice(&self.body)
    }

    /// The body as text (invalid UTF-8 replaced).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}
