//! Checks of a loaded configuration that need more than a type: values whose shape is right but whose meaning is
//! not (limits of 0, durations out of range, roles that need what is not configured). Run by [`super::load`] after
//! the defaults, the file and the environment are merged.

use std::time::Duration;

use super::Config;
use super::load::ConfigError;

/// Longest `engine.progress_hold` accepted.
const MAX_PROGRESS_HOLD: Duration = Duration::from_secs(1);
/// More runtime threads than this is a typo, not a host: each one is an OS thread with its own stack.
const MAX_WORKER_THREADS: usize = 1024;

/// Checks that need more than a type: values whose shape is right but meaning is not.
pub(super) fn validate(config: &Config) -> Result<(), ConfigError> {
    config.configured_roles()?;
    config.wallet_provider.validate()?;
    // mdoc CBOR bounds (issue 15): an mdoc needs a few levels (IssuerSigned > nameSpaces > items > tag 24).
    if !(4..=256).contains(&config.engine.mdoc_max_depth) {
        return Err(ConfigError::Invalid {
            key: "engine.mdoc_max_depth".into(),
            message: "must be between 4 and 256".into(),
        });
    }
    if config.engine.mdoc_max_bytes < 1024 || config.engine.mdoc_iacas_max_bytes == 0 {
        return Err(ConfigError::Invalid {
            key: "engine.mdoc_max_bytes".into(),
            message: "engine.mdoc_max_bytes must be at least 1024 and engine.mdoc_iacas_max_bytes at least 1".into(),
        });
    }
    if let Some(db) = &config.database {
        match db.url.scheme().as_str() {
            "sqlite" | "postgres" | "postgresql" => {}
            other => {
                return Err(ConfigError::Invalid {
                    key: "database.url".into(),
                    message: format!("unsupported scheme `{other}` (use sqlite:// or postgres://)"),
                });
            }
        }
        if db.max_connections == 0 {
            return Err(ConfigError::Invalid {
                key: "database.max_connections".into(),
                message: "must be at least 1".into(),
            });
        }
    }
    if let Some(src) = &config.tenants.source
        && !matches!(src.scheme().as_str(), "sqlite" | "postgres" | "postgresql")
    {
        return Err(ConfigError::Invalid {
            key: "tenants.source".into(),
            message: "must be a sqlite:// or postgres:// URL".into(),
        });
    }
    if let Some(redis) = &config.cache.redis_url
        && !matches!(redis.scheme().as_str(), "redis" | "rediss")
    {
        return Err(ConfigError::Invalid {
            key: "cache.redis_url".into(),
            message: "must be a redis:// or rediss:// URL".into(),
        });
    }
    if config.cache.redis_timeout.is_zero() {
        return Err(ConfigError::Invalid {
            key: "cache.redis_timeout".into(),
            message: "must be greater than 0".into(),
        });
    }
    let rl = &config.rate_limits;
    if rl.window < std::time::Duration::from_secs(1) || rl.window > std::time::Duration::from_secs(24 * 3600) {
        return Err(ConfigError::Invalid {
            key: "rate_limits.window".into(),
            message: "must be between 1s and 24h".into(),
        });
    }
    if rl.redis_prefix.is_empty() || rl.redis_prefix.len() > 64 || rl.redis_prefix.contains(char::is_whitespace) {
        return Err(ConfigError::Invalid {
            key: "rate_limits.redis_prefix".into(),
            message: "must be 1 to 64 characters without whitespace".into(),
        });
    }
    config.storage.validate()?;
    if rl.local_max_keys == 0 {
        return Err(ConfigError::Invalid {
            key: "rate_limits.local_max_keys".into(),
            message: "must be greater than 0".into(),
        });
    }
    for (i, origin) in config.registry.fetch_allowed_origins.iter().enumerate() {
        let ok = url::Url::parse(origin)
            .is_ok_and(|u| matches!(u.scheme(), "https" | "http") && u.origin().is_tuple() && u.path() == "/");
        if !ok {
            return Err(ConfigError::Invalid {
                key: format!("registry.fetch_allowed_origins.{i}"),
                message: format!("`{origin}` is not an origin like https://issuer.example.org"),
            });
        }
    }
    for (i, origin) in config.server.cors_origins.iter().enumerate() {
        if origin != "*" && url::Url::parse(origin).map(|u| u.origin().is_tuple()) != Ok(true) {
            return Err(ConfigError::Invalid {
                key: format!("server.cors_origins.{i}"),
                message: format!("`{origin}` is not an origin like https://wallet.example.org or `*`"),
            });
        }
    }
    let w = &config.workers;
    if !(w.trust_refresh_fraction > 0.0 && w.trust_refresh_fraction <= 1.0) {
        return Err(ConfigError::Invalid {
            key: "workers.trust_refresh_fraction".into(),
            message: "must be greater than 0 and at most 1".into(),
        });
    }
    if w.trust_batch == 0 || w.trust_interval.is_zero() || w.cleanup_interval.is_zero() {
        return Err(ConfigError::Invalid {
            key: "workers".into(),
            message: "intervals and trust_batch must be greater than 0".into(),
        });
    }
    let a = &config.auth;
    if a.key_reload_interval.is_zero() || a.key_rotation_interval.is_some_and(|r| r.is_zero()) {
        return Err(ConfigError::Invalid {
            key: "auth".into(),
            message: "key_reload_interval and key_rotation_interval must be greater than 0".into(),
        });
    }
    if a.key_publish_delay < a.key_reload_interval || a.key_publish_delay < a.jwks_max_age {
        return Err(ConfigError::Invalid {
            key: "auth.key_publish_delay".into(),
            message: "must be at least auth.key_reload_interval and auth.jwks_max_age, so every replica and \
                      every cached JWKS knows a new key before it signs"
                .into(),
        });
    }
    let f = &config.features;
    if f.metadata_proxy_max_response_bytes == 0
        || f.metadata_proxy_cache_max_bytes == 0
        || f.metadata_proxy_cache_ttl.is_zero()
    {
        return Err(ConfigError::Invalid {
            key: "features".into(),
            message: "metadata_proxy_max_response_bytes, metadata_proxy_cache_max_bytes and metadata_proxy_cache_ttl \
                      must be greater than 0"
                .into(),
        });
    }
    if config.server.worker_threads > MAX_WORKER_THREADS {
        return Err(ConfigError::Invalid {
            key: "server.worker_threads".into(),
            message: format!("must be at most {MAX_WORKER_THREADS} (0: one per core)"),
        });
    }
    if config.server.max_body_bytes == 0 {
        return Err(ConfigError::Invalid {
            key: "server.max_body_bytes".into(),
            message: "must be greater than 0".into(),
        });
    }
    if config.engine.max_handshake_bytes == 0 || config.engine.max_message_bytes == 0 {
        return Err(ConfigError::Invalid {
            key: "engine".into(),
            message: "frame size limits must be greater than 0".into(),
        });
    }
    if config.engine.progress_hold > MAX_PROGRESS_HOLD {
        return Err(ConfigError::Invalid {
            key: "engine.progress_hold".into(),
            message: "must be at most 1s (progress frames would reach the client too late)".into(),
        });
    }
    for (key, frames) in [
        ("engine.flow_inbox_frames", config.engine.flow_inbox_frames),
        ("engine.outbound_queue_frames", config.engine.outbound_queue_frames),
        ("engine.sse_replay_frames", config.engine.sse_replay_frames),
        ("engine.sse_replay_bytes", config.engine.sse_replay_bytes),
        ("engine.sse_inbound_frames", config.engine.sse_inbound_frames),
        ("engine.sse_stream_queue_frames", config.engine.sse_stream_queue_frames),
    ] {
        if frames == 0 {
            return Err(ConfigError::Invalid {
                key: key.into(),
                message: "must be greater than 0".into(),
            });
        }
    }
    Ok(())
}
