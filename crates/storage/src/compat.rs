//! The web client's storage routes (docs/api-v1.md "Storage role"), thin adapters onto
//! [`StorageService`]:
//!
//! - `GET|POST /user/session/private-data`: the keystore, which is the blob with the reserved id `keystore`, so the
//!   service API sees the same bytes and versions. ETags are quoted SHA-256 hashes of the bytes.
//! - `GET|POST /storage/vc`, `GET|DELETE /storage/vc/{credentialIdentifier}`, `POST /storage/vc/update`,
//!   `GET /storage/vp`: legacy server-side credential records, only with `features.legacy_credential_records`;
//!   otherwise 404 `{"error":"not_found"}`.

use axum::body::Bytes;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router, middleware};
use serde_json::{Value, json};
use walletd_common::http::{ApiError, Authenticator, SessionUser};

use crate::http::{StorageState, b64u_decode, b64u_encode, owner, set_header};
use crate::service::{StorageError, StorageService};
use walletd_common::http::header_str;

/// Response header carrying the keystore's etag.
pub const PRIVATE_DATA_ETAG: &str = "x-private-data-etag";

/// The compat router: private data always; the legacy records answer 404 unless `legacy_credential_records`.
pub fn compat_routes(service: StorageService, auth: Authenticator, legacy_credential_records: bool) -> Router {
    let state = StorageState::new(service, auth, legacy_credential_records);
    // The switch is checked before anything else (authentication included), so a disabled feature reveals nothing.
    let legacy = Router::new()
        .route("/storage/vc", get(vc_list).post(vc_store))
        .route("/storage/vc/update", post(vc_update))
        .route("/storage/vc/{credential_identifier}", get(vc_get).delete(vc_delete))
        .route("/storage/vp", get(vp_list))
        .route_layer(middleware::from_fn_with_state(state.clone(), legacy_switch));
    Router::new()
        .route(
            "/user/session/private-data",
            get(get_private_data).post(post_private_data),
        )
        .merge(legacy)
        .with_state(state)
}

/// `"x"`, `W/"x"` and `x` compare equal.
fn same_etag(a: &str, b: &str) -> bool {
    fn bare(t: &str) -> &str {
        let t = t.trim();
        let t = t.strip_prefix("W/").unwrap_or(t);
        t.strip_prefix('"').and_then(|s| s.strip_suffix('"')).unwrap_or(t)
    }
    bare(a) == bare(b)
}

async fn get_private_data(
    State(s): State<StorageState>,
    SessionUser(user): SessionUser,
    headers: HeaderMap,
) -> Response {
    let owner = owner(&user);
    let conditional = match (
        header_str(&headers, "if-none-match"),
        header_str(&headers, "x-private-data-if-none-match"),
    ) {
        (Ok(a), Ok(b)) => b.or(a).map(str::to_string),
        (Err(e), _) | (_, Err(e)) => return e.into_response(),
    };
    if let Some(tag) = conditional {
        // Compare against the etag alone first: an unchanged keystore is not read at all.
        match s.service.private_data_etag(&owner).await {
            Ok(current) if tag.split(',').any(|t| same_etag(t, &current)) => {
                let mut r = StatusCode::NOT_MODIFIED.into_response();
                set_header(r.headers_mut(), PRIVATE_DATA_ETAG, &current);
                return r;
            }
            Ok(_) => {}
            Err(e) => return ApiError::from(e).into_response(),
        }
    }
    match s.service.get_private_data(&owner).await {
        Ok(pd) => {
            let mut r = Json(json!({"privateData": {"$b64u": b64u_encode(&pd.bytes)}})).into_response();
            set_header(r.headers_mut(), PRIVATE_DATA_ETAG, &pd.etag);
            r
        }
        Err(e) => ApiError::from(e).into_response(),
    }
}

/// The body of `POST /user/session/private-data`: `{"$b64u":"..."}`, a plain string, or (leniently)
/// `{"privateData": <either>}`.
fn private_data_body(body: &[u8]) -> Result<Vec<u8>, ApiError> {
    let v: Value = serde_json::from_slice(body).map_err(|_| ApiError::bad_request("the body must be JSON"))?;
    let v = match v {
        Value::Object(ref m) if m.contains_key("privateData") => m["privateData"].clone(),
        other => other,
    };
    let text = match &v {
        Value::String(s) => s.as_str(),
        Value::Object(m) => m
            .get("$b64u")
            .and_then(Value::as_str)
            .ok_or_else(|| ApiError::bad_request("the body must be {\"$b64u\":\"<base64url>\"}"))?,
        _ => return Err(ApiError::bad_request("the body must be {\"$b64u\":\"<base64url>\"}")),
    };
    b64u_decode(text, "the private data")
}

async fn post_private_data(
    State(s): State<StorageState>,
    SessionUser(user): SessionUser,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let parsed = header_str(&headers, "x-private-data-if-match")
        .and_then(|m| Ok((m.map(str::to_string), private_data_body(&body)?)));
    let (if_match, bytes) = match parsed {
        Ok(v) => v,
        Err(e) => return e.into_response(),
    };
    match s
        .service
        .put_private_data(&owner(&user), bytes, if_match.as_deref())
        .await
    {
        Ok(etag) => {
            let mut r = StatusCode::NO_CONTENT.into_response();
            set_header(r.headers_mut(), PRIVATE_DATA_ETAG, &etag);
            r
        }
        Err(StorageError::PreconditionFailed { current_etag }) => {
            let mut r = ApiError::new(
                StatusCode::PRECONDITION_FAILED,
                "precondition_failed",
                "the private data has changed; fetch it and retry",
            )
            .into_response();
            set_header(r.headers_mut(), PRIVATE_DATA_ETAG, &current_etag);
            r
        }
        Err(e) => ApiError::from(e).into_response(),
    }
}

// -- legacy credential records --

/// 404 for every legacy route while `features.legacy_credential_records` is off.
async fn legacy_switch(State(s): State<StorageState>, request: Request, next: Next) -> Response {
    if !s.legacy_records {
        return ApiError::not_found("legacy credential records are disabled").into_response();
    }
    next.run(request).await
}

fn legacy_error(e: StorageError) -> Response {
    match e {
        StorageError::NotFound => ApiError::not_found("no such credential").into_response(),
        other => ApiError::from(other).into_response(),
    }
}

/// The identifier of a legacy record: its `credentialIdentifier`.
fn record_id(record: &Value) -> Result<String, ApiError> {
    record
        .get("credentialIdentifier")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .ok_or_else(|| ApiError::bad_request("each credential needs a `credentialIdentifier` string"))
}

async fn vc_list(State(s): State<StorageState>, SessionUser(user): SessionUser) -> Response {
    match s.service.legacy_list(&owner(&user), "vc").await {
        Ok(list) => Json(json!({"vc_list": list})).into_response(),
        Err(e) => legacy_error(e),
    }
}

async fn vp_list(State(s): State<StorageState>, SessionUser(user): SessionUser) -> Response {
    match s.service.legacy_list(&owner(&user), "vp").await {
        Ok(list) => Json(json!({"vp_list": list})).into_response(),
        Err(e) => legacy_error(e),
    }
}

/// `POST /storage/vc` with `{"credentials":[...]}` (or one record): stores each record by its identifier.
async fn vc_store(State(s): State<StorageState>, SessionUser(user): SessionUser, body: Bytes) -> Response {
    let Ok(body) = serde_json::from_slice::<Value>(&body) else {
        return ApiError::bad_request("the body must be JSON").into_response();
    };
    let records = match body.get("credentials") {
        Some(Value::Array(list)) => list.clone(),
        Some(_) => return ApiError::bad_request("`credentials` must be an array").into_response(),
        None if body.is_object() => vec![body],
        None => return ApiError::bad_request("the body must be an object").into_response(),
    };
    let owner = owner(&user);
    for r in &records {
        let id = match record_id(r) {
            Ok(id) => id,
            Err(e) => return e.into_response(),
        };
        if let Err(e) = s.service.legacy_put(&owner, "vc", &id, r).await {
            return legacy_error(e);
        }
    }
    Json(json!({})).into_response()
}

/// `POST /storage/vc/update` with `{"credential":{...}}`: replaces an existing record.
async fn vc_update(State(s): State<StorageState>, SessionUser(user): SessionUser, body: Bytes) -> Response {
    let Ok(body) = serde_json::from_slice::<Value>(&body) else {
        return ApiError::bad_request("the body must be JSON").into_response();
    };
    let record = body.get("credential").cloned().unwrap_or(body);
    let id = match record_id(&record) {
        Ok(id) => id,
        Err(e) => return e.into_response(),
    };
    let owner = owner(&user);
    if let Err(e) = s.service.legacy_get(&owner, "vc", &id).await {
        return legacy_error(e);
    }
    match s.service.legacy_put(&owner, "vc", &id, &record).await {
        Ok(()) => Json(json!({})).into_response(),
        Err(e) => legacy_error(e),
    }
}

async fn vc_get(
    State(s): State<StorageState>,
    SessionUser(user): SessionUser,
    path: Result<Path<String>, PathRejection>,
) -> Response {
    let Ok(Path(id)) = path else {
        return ApiError::bad_request("the credential identifier in the path is not valid").into_response();
    };
    match s.service.legacy_get(&owner(&user), "vc", &id).await {
        Ok(v) => Json(v).into_response(),
        Err(e) => legacy_error(e),
    }
}

async fn vc_delete(
    State(s): State<StorageState>,
    SessionUser(user): SessionUser,
    path: Result<Path<String>, PathRejection>,
) -> Response {
    let Ok(Path(id)) = path else {
        return ApiError::bad_request("the credential identifier in the path is not valid").into_response();
    };
    match s.service.legacy_delete(&owner(&user), "vc", &id).await {
        Ok(()) => Json(json!({})).into_response(),
        Err(e) => legacy_error(e),
    }
}
