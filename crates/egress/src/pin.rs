//! Connection pinning: the only resolver the HTTP stack ever sees.
//!
//! Before a request to a name is sent, the guard resolves the name once and checks every address, then registers
//! the checked addresses here for the duration of the request ([`PinGuard`]). The HTTP stack's resolver
//! ([`PinnedDns`]) answers only from this table and fails for any name that was not registered, so a second,
//! independent resolution (DNS rebinding) cannot happen. IP-literal URLs never reach a resolver at all; they are
//! checked by the policy before the request is built. TLS still verifies the certificate against the host name.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use reqwest::dns::{Addrs, Name, Resolve, Resolving};

/// Pinned entries of one host: (guard id, checked addresses).
type Pins = Vec<(u64, Arc<[IpAddr]>)>;

#[derive(Default)]
pub(crate) struct PinTable {
    entries: Mutex<HashMap<String, Pins>>,
    next_id: AtomicU64,
}

impl PinTable {
    /// Registers checked addresses for `host` until the returned guard is dropped.
    pub(crate) fn pin(self: &Arc<Self>, host: &str, addrs: Vec<IpAddr>) -> PinGuard {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let host = host.to_ascii_lowercase();
        self.entries
            .lock()
            .expect("pin table lock")
            .entry(host.clone())
            .or_default()
            .push((id, addrs.into()));
        PinGuard {
            table: Arc::clone(self),
            host,
            id,
        }
    }

    /// The most recently pinned (checked) addresses of `host`. Every entry was checked, so any of them is safe.
    fn lookup(&self, host: &str) -> Option<Arc<[IpAddr]>> {
        let entries = self.entries.lock().expect("pin table lock");
        entries
            .get(&host.to_ascii_lowercase())
            .and_then(|v| v.last())
            .map(|(_, a)| Arc::clone(a))
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.entries.lock().unwrap().len()
    }
}

/// Removes its entry from the table when dropped.
pub(crate) struct PinGuard {
    table: Arc<PinTable>,
    host: String,
    id: u64,
}

impl Drop for PinGuard {
    fn drop(&mut self) {
        let mut entries = self.table.entries.lock().expect("pin table lock");
        if let Some(v) = entries.get_mut(&self.host) {
            v.retain(|(id, _)| *id != self.id);
            if v.is_empty() {
                entries.remove(&self.host);
            }
        }
    }
}

/// The `reqwest` resolver: answers only pinned names, never performs a lookup.
pub(crate) struct PinnedDns(pub(crate) Arc<PinTable>);

impl Resolve for PinnedDns {
    fn resolve(&self, name: Name) -> Resolving {
        let found = self.0.lookup(name.as_str());
        Box::pin(async move {
            match found {
                // Port 0 is replaced by the URL's port (or the scheme default) by the HTTP stack.
                Some(addrs) => {
                    let list: Vec<SocketAddr> = addrs.iter().map(|ip| SocketAddr::new(*ip, 0)).collect();
                    Ok(Box::new(list.into_iter()) as Addrs)
                }
                None => Err("egress guard: name was not resolved and checked by the guard".into()),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn unpinned_names_never_resolve() {
        let table = Arc::new(PinTable::default());
        let dns = PinnedDns(Arc::clone(&table));
        assert!(dns.resolve("example.com".parse().unwrap()).await.is_err());
        let g = table.pin("Example.com", vec!["192.0.2.1".parse().unwrap()]);
        let got: Vec<_> = dns.resolve("example.com".parse().unwrap()).await.unwrap().collect();
        assert_eq!(got, vec!["192.0.2.1:0".parse().unwrap()]);
        drop(g);
        assert_eq!(table.len(), 0);
        assert!(dns.resolve("example.com".parse().unwrap()).await.is_err());
    }
}
