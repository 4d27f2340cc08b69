//! The JSON request body extractor every role uses, answering bad input in the error shape.

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::StatusCode;
use serde::de::DeserializeOwned;

use super::ApiError;

/// A JSON request body. An empty body reads as `{}`; bad JSON is 400 `malformed_json` (413 `payload_too_large`
/// when over the body limit) and the message never echoes the input. The `Content-Type` is not checked: clients
/// differ in what they send.
pub struct JsonBody<T>(pub T);

impl<S, T> FromRequest<S> for JsonBody<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = Bytes::from_request(req, state).await.map_err(|rej| {
            if rej.status() == StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "payload_too_large",
                    "request body is too large",
                )
            } else {
                ApiError::new(
                    StatusCode::BAD_REQUEST,
                    "malformed_body",
                    "the request body could not be read",
                )
            }
        })?;
        parse_json(&bytes).map(JsonBody)
    }
}

/// Parses a JSON body into `T` with the error answers of [`JsonBody`].
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let body: &[u8] = if bytes.iter().all(u8::is_ascii_whitespace) {
        b"{}"
    } else {
        bytes
    };
    let mut de = serde_json::Deserializer::from_slice(body);
    let parsed = T::deserialize(&mut de).and_then(|v| de.end().map(|()| v));
    parsed.map_err(|e| {
        let message = if e.is_syntax() || e.is_eof() {
            "the request body is not valid JSON".to_string()
        } else {
            // Line/column only: serde's message may quote the offending value.
            format!(
                "the request body has the wrong shape (line {}, column {})",
                e.line(),
                e.column()
            )
        };
        ApiError::new(StatusCode::BAD_REQUEST, "malformed_json", message)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Deserialize, Debug)]
    #[serde(deny_unknown_fields)]
    struct Body {
        #[serde(default)]
        name: Option<String>,
    }

    #[test]
    fn empty_is_an_empty_object_and_errors_never_echo_the_input() {
        assert_eq!(parse_json::<Body>(b"  ").unwrap().name, None);
        let e = parse_json::<Body>(b"{not json").unwrap_err();
        assert_eq!((e.status, e.code), (StatusCode::BAD_REQUEST, "malformed_json"));
        let e = parse_json::<Body>(br#"{"secret-value": 1}"#).unwrap_err();
        assert_eq!(e.code, "malformed_json");
        assert!(!e.message.contains("secret-value"), "{}", e.message);
    }
}
