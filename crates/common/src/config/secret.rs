//! Configuration values that must never reach a log line or `config check` output.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A secret string (a shared JWT secret, an admin token). `Debug` and `Serialize` print `[redacted]`; only
/// [`Secret::expose`] gives the value, so every use of it is greppable.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret value.
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// The secret itself. Call only where it is used (signing, comparing), never to print it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

impl Serialize for Secret {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str("[redacted]")
    }
}

impl<'de> Deserialize<'de> for Secret {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d).map(Secret)
    }
}

/// A connection URL that may carry a password (`postgres://user:pw@host/db`). Printed with the password replaced.
#[derive(Clone, PartialEq, Eq)]
pub struct ConnectionUrl(String);

impl ConnectionUrl {
    /// Wraps a connection URL.
    pub fn new(value: impl Into<String>) -> Self {
        ConnectionUrl(value.into())
    }

    /// The full URL, password included, for the driver.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// The URL with any password replaced by `[redacted]`, for logs and `config check`.
    pub fn redacted(&self) -> String {
        match url::Url::parse(&self.0) {
            Ok(mut u) if u.password().is_some() => {
                // set_password only fails for URLs that cannot carry one, which this one evidently can.
                let _ = u.set_password(Some("[redacted]"));
                u.to_string()
            }
            Ok(u) if u.has_host() => self.0.clone(),
            // Not a URL with a host (or not one at all): show only its scheme, the rest may hold anything.
            _ => match self.0.split_once(':') {
                Some((scheme, _)) => format!("{scheme}:[redacted]"),
                None => "[redacted]".into(),
            },
        }
    }

    /// The URL scheme (`sqlite`, `postgres`, `redis`, ...), lower-cased.
    pub fn scheme(&self) -> String {
        self.0
            .split_once(':')
            .map(|(s, _)| s.to_ascii_lowercase())
            .unwrap_or_default()
    }
}

impl fmt::Debug for ConnectionUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.redacted())
    }
}

impl Serialize for ConnectionUrl {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.redacted())
    }
}

impl<'de> Deserialize<'de> for ConnectionUrl {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d).map(ConnectionUrl)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_never_print() {
        let s = Secret::new("hunter2");
        assert_eq!(format!("{s:?}"), "[redacted]");
        assert_eq!(serde_json::to_string(&s).unwrap(), "\"[redacted]\"");
        assert_eq!(s.expose(), "hunter2");
    }

    #[test]
    fn connection_url_hides_password() {
        let u = ConnectionUrl::new("postgres://app:s3cret@db:5432/wallet");
        assert!(!format!("{u:?}").contains("s3cret"));
        assert!(u.redacted().contains("app:"));
        assert_eq!(u.scheme(), "postgres");
        let plain = ConnectionUrl::new("sqlite://./data/walletd.db");
        assert_eq!(plain.redacted(), "sqlite://./data/walletd.db");
        let odd = ConnectionUrl::new("weird:pa ss@@");
        assert_eq!(odd.redacted(), "weird:[redacted]");
    }
}
