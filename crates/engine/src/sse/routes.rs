//! The HTTP side of API v2 over SSE: `POST /api/v2/wallet/sse/session` (bearer token, origin, budgets: the
//! WebSocket upgrade's checks), `GET /api/v2/wallet/sse?session=` (the event stream, resumable with
//! `Last-Event-ID`), `POST /api/v2/wallet/sse/message?session=` (one client frame). Every refusal is a 4xx (or 503)
//! `{"error","message"}` body.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use axum::Json;
use axum::body::Body;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::sse::Sse;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use tokio::sync::{mpsc, oneshot};
use walletd_common::http::{ApiError, AuthUser, bearer_token};
use walletd_common::jwt::JwtError;
use walletd_protocol::{ErrorCode, HttpErrorCode};

use super::{Attach, Entry, SseLink};
use crate::session::{self, Admission};
use crate::{Engine, SSE_MESSAGE_PATH, SSE_PATH};

/// `?session=`.
#[derive(Deserialize)]
pub(crate) struct SessionQuery {
    session: Option<String>,
    /// For clients that cannot set the `Last-Event-ID` header on a new connection.
    last_event_id: Option<String>,
}

/// A refused bearer token, as the other roles answer it.
fn token_error(e: JwtError) -> ApiError {
    match e {
        JwtError::KeysUnavailable => ApiError::unavailable("token keys are unavailable, try again"),
        JwtError::RevocationUnavailable => ApiError::unavailable("token revocation state is unavailable, try again"),
        other => ApiError::unauthorized(other.to_string()),
    }
}

fn origin(headers: &HeaderMap) -> Option<String> {
    headers
        .get(header::ORIGIN)
        .and_then(|o| o.to_str().ok())
        .map(|o| o.trim_end_matches('/').to_ascii_lowercase())
}

/// `POST /api/v2/wallet/sse/session`: creates a session for the bearer token's user.
pub(crate) async fn create(State(engine): State<Engine>, headers: HeaderMap) -> Result<Response, ApiError> {
    if !engine.origin_allowed(&headers) {
        return Err(ApiError::forbidden("origin not allowed"));
    }
    if !headers.contains_key(header::AUTHORIZATION) {
        return Err(ApiError::unauthorized("missing bearer token"));
    }
    let token =
        bearer_token(&headers).ok_or_else(|| ApiError::unauthorized("Authorization must be `Bearer <token>`"))?;
    let user = engine.authenticator().authenticate(token).await.map_err(token_error)?;
    // The WebSocket's checks, in its order: shutting down and the connection cap are 503 (as at the upgrade), a
    // refused tenant 403 and a spent connection budget 429 (the handshake's 4001 and 1008).
    if engine.shutdown_token().is_cancelled() {
        return Err(ApiError::unavailable("shutting down"));
    }
    if let Err(r) = crate::tenant_policy::admit_session(&engine, &user).await {
        return Err(match r.code {
            ErrorCode::Forbidden => ApiError::forbidden(r.message),
            ErrorCode::TooManyRequests => {
                let mut e = ApiError::with_code(StatusCode::TOO_MANY_REQUESTS, HttpErrorCode::RateLimited, r.message);
                e.retry_after = Some(r.retry_after_secs.max(1));
                e
            }
            _ => ApiError::unavailable(r.message),
        });
    }
    let slot = crate::ConnectionSlot::acquire(&engine).ok_or_else(|| ApiError::unavailable("too many connections"))?;
    let (id, link) = SseLink::register(&engine, &user.user_id, &user.tenant_id, origin(&headers));
    tokio::spawn(session::run_link(engine, link, slot, Admission::SameUser, Some(user)));
    let body = serde_json::json!({
        "session_id": id,
        "stream_url": format!("{SSE_PATH}?session={id}"),
        "message_url": format!("{SSE_MESSAGE_PATH}?session={id}"),
    });
    // `Cache-Control: no-store` comes from the shared middleware's default.
    Ok((StatusCode::CREATED, Json(body)).into_response())
}

/// The session a stream or message request names, refused alike whether it never existed, has ended, or belongs
/// to someone else (a bearer token, when the request carries one, must be the session's user's).
async fn session_of(engine: &Engine, headers: &HeaderMap, q: &SessionQuery) -> Result<Arc<Entry>, ApiError> {
    let Some(id) = q.session.as_deref() else {
        return Err(ApiError::bad_request("`session` is required"));
    };
    if !engine.origin_allowed(headers) {
        return Err(ApiError::forbidden("origin not allowed"));
    }
    let unknown = || ApiError::not_found("no such session (it may have ended): create a new one");
    if id.len() != 64 || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(unknown());
    }
    let entry = engine.sse().get(id).ok_or_else(unknown)?;
    if let (Some(sent), Some(created)) = (origin(headers), entry.origin.as_deref())
        && sent != created
    {
        return Err(ApiError::forbidden("origin does not match the session's"));
    }
    if headers.contains_key(header::AUTHORIZATION) {
        let token =
            bearer_token(headers).ok_or_else(|| ApiError::unauthorized("Authorization must be `Bearer <token>`"))?;
        let user: AuthUser = engine.authenticator().authenticate(token).await.map_err(token_error)?;
        if user.user_id != entry.user_id || user.tenant_id != entry.tenant_id {
            return Err(unknown());
        }
    }
    Ok(entry)
}

/// `GET /api/v2/wallet/sse?session=`: the session's event stream from `Last-Event-ID` on.
pub(crate) async fn stream(
    State(engine): State<Engine>,
    headers: HeaderMap,
    Query(q): Query<SessionQuery>,
) -> Result<Response, ApiError> {
    let entry = session_of(&engine, &headers, &q).await?;
    let last = headers
        .get("last-event-id")
        .map(|v| v.to_str().unwrap_or("x").to_string())
        .or(q.last_event_id.clone());
    let last_event_id = match last.as_deref().map(str::trim) {
        None | Some("") => 0,
        Some(v) => v
            .parse::<u64>()
            .map_err(|_| ApiError::bad_request("`Last-Event-ID` must be an event id this session sent"))?,
    };
    let (reply, answer) = oneshot::channel();
    let gone = || ApiError::not_found("no such session (it may have ended): create a new one");
    match entry.attach.try_send(Attach { last_event_id, reply }) {
        Ok(()) => {}
        Err(mpsc::error::TrySendError::Full(_)) => {
            let mut e = ApiError::with_code(
                StatusCode::TOO_MANY_REQUESTS,
                HttpErrorCode::RateLimited,
                "too many stream requests for this session",
            );
            e.retry_after = Some(1);
            return Err(e);
        }
        Err(mpsc::error::TrySendError::Closed(_)) => return Err(gone()),
    }
    drop(entry);
    let limit = engine.config().read_timeout;
    let rx = match tokio::time::timeout(limit, answer).await {
        Ok(Ok(Ok(rx))) => rx,
        Ok(Ok(Err(w))) => {
            return Err(ApiError::conflict(format!(
                "Last-Event-ID {last_event_id} is outside the resumption window (resumable: {} to {}); \
                 create a new session",
                w.oldest, w.newest
            )));
        }
        Ok(Err(_)) => return Err(gone()),
        Err(_) => return Err(ApiError::unavailable("the session did not answer; try again")),
    };
    let events = futures::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|c| (c, rx)) });
    let mut response = Sse::new(events).into_response();
    let h = response.headers_mut();
    // Set here, not left to the shared default: axum's `Sse` answers `no-cache`, which the default keeps.
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert("x-accel-buffering", HeaderValue::from_static("no"));
    Ok(response)
}

/// `POST /api/v2/wallet/sse/message?session=`: one client frame for the session.
pub(crate) async fn message(
    State(engine): State<Engine>,
    headers: HeaderMap,
    Query(q): Query<SessionQuery>,
    body: Body,
) -> Result<Response, ApiError> {
    let entry = session_of(&engine, &headers, &q).await?;
    let cfg = engine.config();
    let limit = if entry.authenticated.load(Ordering::Acquire) {
        cfg.max_message_bytes
    } else {
        cfg.max_handshake_bytes
    };
    let bytes = axum::body::to_bytes(body, limit).await.map_err(|_| {
        ApiError::with_code(
            StatusCode::PAYLOAD_TOO_LARGE,
            HttpErrorCode::PayloadTooLarge,
            format!("a frame may have at most {limit} bytes here"),
        )
    })?;
    let text = String::from_utf8(bytes.to_vec()).map_err(|_| ApiError::bad_request("the frame is not UTF-8"))?;
    if serde_json::from_str::<serde::de::IgnoredAny>(&text).is_err() || !text.trim_start().starts_with('{') {
        return Err(ApiError::bad_request(
            "the body must be one API v2 frame: a JSON object",
        ));
    }
    match entry.inbound.try_send(text) {
        Ok(()) => Ok(StatusCode::ACCEPTED.into_response()),
        Err(mpsc::error::TrySendError::Full(_)) => {
            let mut e = ApiError::with_code(
                StatusCode::TOO_MANY_REQUESTS,
                HttpErrorCode::RateLimited,
                format!("the session has {} frames queued; retry", cfg.sse_inbound_frames),
            );
            e.retry_after = Some(1);
            Err(e)
        }
        Err(mpsc::error::TrySendError::Closed(_)) => Err(ApiError::not_found(
            "no such session (it may have ended): create a new one",
        )),
    }
}
