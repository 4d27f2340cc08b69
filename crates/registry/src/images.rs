//! Embedding images as `data:` URIs: fetched through the egress guard within `registry.max_image_bytes`, media
//! type on the allow-list and consistent with the bytes, `uri#integrity` verified, SVG refused when it could run
//! script or load anything (no rewriting: a sanitiser that misses a case is worse than a clear refusal).

use base64::Engine;
use serde_json::Value;
use walletd_egress::EgressClient;

use crate::error::RegistryError;
use crate::sri::Integrity;

/// What embedding needs.
pub struct ImagePolicy<'a> {
    pub egress: &'a EgressClient,
    pub max_bytes: usize,
    pub allowed_types: &'a [String],
}

/// Replaces the `uri` of every image reference (JSON pointers from [`crate::document::image_refs`]) by a
/// `data:` URI. Any failure fails the whole document, naming the image.
pub async fn embed_all(doc: &mut Value, refs: &[String], policy: &ImagePolicy<'_>) -> Result<(), RegistryError> {
    for pointer in refs {
        let Some(obj) = doc.pointer(pointer) else { continue };
        let uri = obj.get("uri").and_then(Value::as_str).unwrap_or_default().to_string();
        let integrity = obj.get("uri#integrity").and_then(Value::as_str).map(str::to_string);
        let data_uri = embed_one(&uri, integrity.as_deref(), policy)
            .await
            .map_err(|e| prefix(e, pointer))?;
        if let Some(slot) = doc.pointer_mut(&format!("{pointer}/uri")) {
            *slot = Value::String(data_uri);
        }
    }
    Ok(())
}

fn prefix(e: RegistryError, pointer: &str) -> RegistryError {
    let p = |m: String| format!("image {pointer}: {m}");
    match e {
        RegistryError::Integrity(m) => RegistryError::Integrity(p(m)),
        RegistryError::ImageRefused(m) => RegistryError::ImageRefused(p(m)),
        RegistryError::Upstream { message, timeout } => RegistryError::Upstream {
            message: p(message),
            timeout,
        },
        other => RegistryError::ImageRefused(p(other.to_string())),
    }
}

async fn embed_one(uri: &str, integrity: Option<&str>, policy: &ImagePolicy<'_>) -> Result<String, RegistryError> {
    let (media_type, bytes) = if let Some(rest) = uri.strip_prefix("data:") {
        decode_data_uri(rest)?
    } else {
        let resp = policy
            .egress
            .get(uri, policy.max_bytes)
            .await
            .map_err(|e| match e.code() {
                "EGRESS_TOO_LARGE" => {
                    RegistryError::ImageRefused(format!("larger than registry.max_image_bytes ({})", policy.max_bytes))
                }
                _ => RegistryError::from_egress("fetch", &e),
            })?;
        if !resp.status.is_success() {
            return Err(RegistryError::Upstream {
                message: format!("fetch answered HTTP {}", resp.status.as_u16()),
                timeout: false,
            });
        }
        let ct = resp
            .headers
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        (ct, resp.body.to_vec())
    };
    if bytes.len() > policy.max_bytes {
        return Err(RegistryError::ImageRefused(format!(
            "larger than registry.max_image_bytes ({})",
            policy.max_bytes
        )));
    }
    if let Some(i) = integrity {
        let i = Integrity::parse(i).map_err(|e| RegistryError::Integrity(format!("uri#integrity: {e}")))?;
        if !i.matches(&bytes) {
            return Err(RegistryError::Integrity("content does not match uri#integrity".into()));
        }
    }
    if !policy.allowed_types.iter().any(|t| t.eq_ignore_ascii_case(&media_type)) {
        return Err(RegistryError::ImageRefused(format!(
            "media type `{media_type}` is not in registry.image_content_types"
        )));
    }
    check_content(&media_type, &bytes).map_err(RegistryError::ImageRefused)?;
    let b64 = base64::engine::general_purpose::STANDARD.encode(&bytes);
    Ok(format!("data:{media_type};base64,{b64}"))
}

fn decode_data_uri(rest: &str) -> Result<(String, Vec<u8>), RegistryError> {
    let (meta, data) = rest
        .split_once(',')
        .ok_or_else(|| RegistryError::ImageRefused("malformed data: URI".into()))?;
    let media_type = meta.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    let bytes = if meta.ends_with(";base64") {
        base64::engine::general_purpose::STANDARD
            .decode(data)
            .map_err(|_| RegistryError::ImageRefused("malformed base64 in data: URI".into()))?
    } else {
        data.as_bytes().to_vec()
    };
    Ok((media_type, bytes))
}

/// The bytes must be what the media type says: magic numbers for raster formats, a script-free self-contained
/// document for SVG.
pub fn check_content(media_type: &str, bytes: &[u8]) -> Result<(), String> {
    let ok = match media_type {
        "image/png" => bytes.starts_with(b"\x89PNG\r\n\x1a\n"),
        "image/jpeg" => bytes.starts_with(&[0xFF, 0xD8, 0xFF]),
        "image/gif" => bytes.starts_with(b"GIF87a") || bytes.starts_with(b"GIF89a"),
        "image/webp" => bytes.len() >= 12 && &bytes[..4] == b"RIFF" && &bytes[8..12] == b"WEBP",
        "image/svg+xml" => return check_svg(bytes),
        // Other operator-allowed types are taken as declared.
        _ => true,
    };
    if ok {
        Ok(())
    } else {
        Err(format!("content is not {media_type}"))
    }
}

/// Refuses SVG that could execute or fetch: `<script>`, `on*=` event handlers, `javascript:`, `<foreignObject>`,
/// DTDs/entities, and any `href`/`url(...)` not pointing inside the document (`#...`) or at an inline `data:`.
pub fn check_svg(bytes: &[u8]) -> Result<(), String> {
    let text = std::str::from_utf8(bytes).map_err(|_| "SVG is not UTF-8".to_string())?;
    let lower = text.to_ascii_lowercase();
    if !lower.contains("<svg") {
        return Err("content is not SVG".into());
    }
    for needle in [
        "<script",
        "javascript:",
        "<foreignobject",
        "<!doctype",
        "<!entity",
        "@import",
        "<iframe",
        "<embed",
        "<object",
    ] {
        if lower.contains(needle) {
            return Err(format!("SVG contains `{needle}`"));
        }
    }
    if has_event_handler(&lower) {
        return Err("SVG contains an event handler attribute".into());
    }
    for (i, _) in lower.match_indices("href") {
        let value = attribute_value(&lower[i + 4..]);
        if let Some(v) = value
            && !(v.starts_with('#') || v.starts_with("data:image/"))
        {
            return Err("SVG references an external resource".into());
        }
    }
    for (i, _) in lower.match_indices("url(") {
        let v = lower[i + 4..].trim_start_matches([' ', '\'', '"']);
        if !v.starts_with('#') {
            return Err("SVG references an external resource".into());
        }
    }
    Ok(())
}

/// `on<letters>` preceded by whitespace or `/` and followed by optional spaces and `=`.
fn has_event_handler(lower: &str) -> bool {
    let b = lower.as_bytes();
    for (i, _) in lower.match_indices("on") {
        let before_ok = i > 0 && (b[i - 1].is_ascii_whitespace() || b[i - 1] == b'/');
        if !before_ok {
            continue;
        }
        let mut j = i + 2;
        while j < b.len() && b[j].is_ascii_alphabetic() {
            j += 1;
        }
        if j == i + 2 {
            continue;
        }
        while j < b.len() && b[j].is_ascii_whitespace() {
            j += 1;
        }
        if j < b.len() && b[j] == b'=' {
            return true;
        }
    }
    false
}

/// The value of an attribute whose name ended just before `rest` (`="v"`, `='v'`); `None` when `rest` is not an
/// assignment (the word appeared elsewhere, e.g. in text).
fn attribute_value(rest: &str) -> Option<&str> {
    let rest = rest.trim_start();
    let rest = rest.strip_prefix('=')?.trim_start();
    let quote = rest.chars().next()?;
    if quote != '"' && quote != '\'' {
        return Some(rest);
    }
    let inner = &rest[1..];
    Some(&inner[..inner.find(quote).unwrap_or(inner.len())])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn svg_policy() {
        let ok = br##"<svg xmlns="http://www.w3.org/2000/svg"><defs><linearGradient id="g"/></defs><rect fill="url(#g)"/><use href="#g"/><text>only on weekends</text></svg>"##;
        check_svg(ok).unwrap();
        for bad in [
            r#"<svg><script>alert(1)</script></svg>"#,
            r#"<svg onload="alert(1)"></svg>"#,
            r#"<svg><rect ONCLICK = "x"/></svg>"#,
            r#"<svg><a href="javascript:alert(1)">x</a></svg>"#,
            r#"<svg><image xlink:href="https://tracker.example/p.png"/></svg>"#,
            r#"<svg><rect style="fill:url(https://x/y)"/></svg>"#,
            r#"<svg><foreignObject><div/></foreignObject></svg>"#,
            r#"<!DOCTYPE svg [<!ENTITY x SYSTEM "file:///etc/passwd">]><svg>&x;</svg>"#,
            "no svg here",
        ] {
            assert!(check_svg(bad.as_bytes()).is_err(), "{bad}");
        }
    }

    #[test]
    fn raster_magic() {
        assert!(check_content("image/png", b"\x89PNG\r\n\x1a\nrest").is_ok());
        assert!(check_content("image/png", b"<svg/>").is_err());
        assert!(check_content("image/jpeg", &[0xFF, 0xD8, 0xFF, 0xE0]).is_ok());
        assert!(check_content("image/gif", b"GIF89a..").is_ok());
        assert!(check_content("image/webp", b"RIFF\0\0\0\0WEBPVP8 ").is_ok());
    }
}
