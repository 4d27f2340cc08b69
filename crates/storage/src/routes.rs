//! The storage service API (docs/api-v1.md "Storage role"): a thin HTTP adapter onto [`StorageService`].
//!
//! ```text
//! GET    /storage/credentials[?cursor=&limit=&include=data]   list (metadata unless include=data)
//! GET    /storage/credentials/{id}                            one blob, ETag "<version>", If-None-Match -> 304
//! PUT    /storage/credentials/{id}                            create/replace; If-Match / If-None-Match: *
//! DELETE /storage/credentials/{id}                            delete (tombstone); If-Match
//! GET    /storage/sync?since=<cursor>&limit=                  change feed
//! ```

use axum::body::Bytes;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use std::borrow::Cow;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use walletd_common::http::{ApiError, AuthUser, Authenticator, header_str};

use crate::http::{
    StorageState, b64u_decode, b64u_encode, error_response, owner, query_map, query_u32, set_header, version_etag,
};
use crate::service::{Blob, Precondition, StorageService};

/// The service API's router. Every route needs a bearer token (see [`Authenticator`]) and answers with
/// `Cache-Control: no-store` (the shared middleware's default).
pub fn routes(service: StorageService, auth: Authenticator) -> Router {
    Router::new()
        .route("/storage/credentials", get(list))
        .route(
            "/storage/credentials/{id}",
            get(get_one).put(put_one).delete(delete_one),
        )
        .route("/storage/sync", get(sync))
        .with_state(StorageState::new(service, auth, false))
}

/// The `{id}` path segment; a rejection becomes a JSON 400.
fn path_id(path: Result<Path<String>, PathRejection>) -> Result<String, ApiError> {
    path.map(|Path(id)| id)
        .map_err(|_| ApiError::bad_request("the blob id in the path is not valid"))
}

fn blob_json(b: &Blob) -> Value {
    let mut v = json!({
        "id": b.id,
        "version": b.version,
        "updated_at": b.updated_at,
        "size": b.size,
        "content_type": b.content_type,
    });
    if let Some(data) = &b.data {
        v["data"] = Value::String(b64u_encode(data));
    }
    v
}

async fn list(State(s): State<StorageState>, user: AuthUser, RawQuery(q): RawQuery) -> Response {
    let q = query_map(q);
    let limit = match query_u32(&q, "limit") {
        Ok(l) => l,
        Err(e) => return e.into_response(),
    };
    let include_data = match q.get("include").map(String::as_str) {
        None | Some("") => false,
        Some("data") => true,
        Some(_) => return ApiError::bad_request("`include` accepts only `data`").into_response(),
    };
    match s
        .service
        .list(&owner(&user), q.get("cursor").map(String::as_str), limit, include_data)
        .await
    {
        Ok(page) => Json(json!({
            "items": page.items.iter().map(blob_json).collect::<Vec<_>>(),
            "next_cursor": page.next_cursor,
        }))
        .into_response(),
        Err(e) => error_response(e),
    }
}

async fn get_one(
    State(s): State<StorageState>,
    user: AuthUser,
    path: Result<Path<String>, PathRejection>,
    headers: HeaderMap,
) -> Response {
    let id = match path_id(path) {
        Ok(id) => id,
        Err(e) => return e.into_response(),
    };
    let blob = match s.service.get(&owner(&user), &id).await {
        Ok(b) => b,
        Err(e) => return error_response(e),
    };
    let etag = version_etag(blob.version);
    // A conditional GET: the device already has this version. A malformed If-None-Match simply does not match.
    let not_modified = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.split(',')
                .any(|t| t.trim() == "*" || t.trim().trim_start_matches("W/") == etag)
        });
    let mut r = if not_modified {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        // Serialised straight from the blob (no JSON tree in between): one base64 string, one output buffer.
        Json(BlobBody {
            id: &blob.id,
            version: blob.version,
            data: b64u_encode(blob.data.as_deref().unwrap_or_default()),
            content_type: blob.content_type.as_deref(),
            updated_at: blob.updated_at,
        })
        .into_response()
    };
    set_header(r.headers_mut(), header::ETAG, &etag);
    r
}

/// `If-Match` / `If-None-Match` of a write. `If-Match: "<n>"` (or a bare `n`), `If-Match: *`, `If-None-Match: *`.
fn precondition(headers: &HeaderMap, allow_absent: bool) -> Result<Precondition, ApiError> {
    let if_match = header_str(headers, "if-match")?.map(str::trim);
    let if_none = header_str(headers, "if-none-match")?.map(str::trim);
    match (if_match, if_none) {
        (Some(_), Some(_)) => Err(ApiError::bad_request("send either If-Match or If-None-Match, not both")),
        (Some("*"), None) => Ok(Precondition::Exists),
        (Some(tag), None) => {
            let inner = tag.strip_prefix('"').and_then(|t| t.strip_suffix('"')).unwrap_or(tag);
            inner
                .parse::<i64>()
                .ok()
                .filter(|v| *v > 0)
                .map(Precondition::Version)
                .ok_or_else(|| ApiError::bad_request("If-Match must be \"<version>\" (a positive integer) or *"))
        }
        (None, Some("*")) if allow_absent => Ok(Precondition::Absent),
        (None, Some(_)) => Err(ApiError::bad_request("only If-None-Match: * is supported on writes")),
        (None, None) => Ok(Precondition::None),
    }
}

/// The body of a blob GET.
#[derive(Serialize)]
struct BlobBody<'a> {
    id: &'a str,
    version: i64,
    data: String,
    content_type: Option<&'a str>,
    updated_at: i64,
}

/// A JSON PUT body. `data` borrows from the request body when it has no escapes (base64url never needs any), so
/// the only copy of the blob is its decoding.
#[derive(Deserialize)]
struct PutBody<'a> {
    #[serde(borrow)]
    data: Cow<'a, str>,
    #[serde(default)]
    content_type: Option<String>,
}

/// The blob of a PUT: JSON `{"data":"<base64url>","content_type"?}`, or the raw bytes with
/// `Content-Type: application/octet-stream`.
fn put_payload(headers: &HeaderMap, body: Bytes) -> Result<(Vec<u8>, Option<String>), ApiError> {
    let ct = header_str(headers, "content-type")?
        .unwrap_or("")
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    if ct == "application/octet-stream" {
        // Takes the buffer over without copying when the body is one unshared allocation.
        return Ok((Vec::from(body), None));
    }
    if !(ct.is_empty() || ct == "application/json" || ct.ends_with("+json")) {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "send application/json {\"data\":\"<base64url>\"} or application/octet-stream",
        ));
    }
    let parsed: PutBody<'_> = serde_json::from_slice(&body)
        .map_err(|_| ApiError::bad_request("the body must be {\"data\":\"<base64url>\",\"content_type\"?:\"...\"}"))?;
    let data = b64u_decode(&parsed.data, "`data`")?;
    Ok((data, parsed.content_type))
}

async fn put_one(
    State(s): State<StorageState>,
    user: AuthUser,
    path: Result<Path<String>, PathRejection>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let result = async {
        let id = path_id(path)?;
        let pre = precondition(&headers, true)?;
        let (data, content_type) = put_payload(&headers, body)?;
        Ok::<_, ApiError>((id, pre, data, content_type))
    }
    .await;
    let (id, pre, data, content_type) = match result {
        Ok(v) => v,
        Err(e) => return e.into_response(),
    };
    match s.service.put(&owner(&user), &id, data, content_type, pre).await {
        Ok(w) => {
            let status = if w.created { StatusCode::CREATED } else { StatusCode::OK };
            let mut r = (status, Json(json!({"id": id, "version": w.version}))).into_response();
            set_header(r.headers_mut(), header::ETAG, &version_etag(w.version));
            r
        }
        Err(e) => error_response(e),
    }
}

async fn delete_one(
    State(s): State<StorageState>,
    user: AuthUser,
    path: Result<Path<String>, PathRejection>,
    headers: HeaderMap,
) -> Response {
    let parsed = path_id(path).and_then(|id| Ok((id, precondition(&headers, false)?)));
    let (id, pre) = match parsed {
        Ok(v) => v,
        Err(e) => return e.into_response(),
    };
    let expected = match pre {
        Precondition::Version(v) => Some(v),
        // `*` means "must exist", which a delete requires anyway.
        Precondition::Exists | Precondition::None => None,
        Precondition::Absent => return ApiError::bad_request("If-None-Match is not allowed on DELETE").into_response(),
    };
    match s.service.delete(&owner(&user), &id, expected).await {
        Ok(_) => StatusCode::NO_CONTENT.into_response(),
        Err(e) => error_response(e),
    }
}

/// A page of the change feed as sent (a struct rather than a `json!` map: the usual poll's answer is this and
/// nothing else, and it is the most frequent request a device makes).
#[derive(Serialize)]
struct SyncBody<'a> {
    changes: Vec<Value>,
    cursor: &'a str,
    has_more: bool,
    reset_required: bool,
}

async fn sync(State(s): State<StorageState>, user: AuthUser, RawQuery(q): RawQuery) -> Response {
    let q = query_map(q);
    let limit = match query_u32(&q, "limit") {
        Ok(l) => l,
        Err(e) => return e.into_response(),
    };
    match s
        .service
        .sync(&owner(&user), q.get("since").map(String::as_str), limit)
        .await
    {
        Ok(page) => {
            let changes: Vec<Value> = page
                .changes
                .iter()
                .map(|c| {
                    let mut v = json!({
                        "id": c.id,
                        "version": c.version,
                        "deleted": c.deleted,
                        "updated_at": c.updated_at,
                    });
                    if let Some(data) = &c.data {
                        v["data"] = Value::String(b64u_encode(data));
                        v["content_type"] = json!(c.content_type);
                    }
                    v
                })
                .collect();
            Json(SyncBody {
                changes,
                cursor: &page.cursor,
                has_more: page.has_more,
                reset_required: page.reset_required,
            })
            .into_response()
        }
        Err(e) => error_response(e),
    }
}
