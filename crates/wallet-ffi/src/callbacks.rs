//! The caller's callbacks: the user-facing ones (progress, transaction code, authorization, consent) as a
//! [`Ui`], and the signing table as a [`HolderSigner`]. Callbacks answer through a [`WalletdAnswer`] the library
//! owns (`walletd_answer_set`, `walletd_answer_set_bytes` copy into it), so no memory changes owner across the
//! boundary in that direction.

use std::ffi::{c_char, c_void};

use serde_json::{Value, json};
use walletd_wallet::Jwk;
use walletd_wallet::agent::{Candidate, ConsentRequest, Ui};
use walletd_wallet::signer::{HolderSigner, SignPurpose, SignerError, SignerKey};

use crate::cstr::{MAX_ANSWER_BYTES, temp_c};
use crate::error::Error;

/// Consent: share what was shown.
pub const WALLETD_CONSENT_ACCEPT: i32 = 0;
/// Consent: share the subset the answer holds (`{"candidates": [{query_id, credential_id, claims}]}`).
pub const WALLETD_CONSENT_SUBSET: i32 = 1;
/// Consent: share nothing.
pub const WALLETD_CONSENT_DECLINE: i32 = 2;

/// Where a callback puts its answer (owned by the library, valid only during the callback).
#[derive(Debug, Default)]
pub struct WalletdAnswer {
    pub(crate) value: Option<Vec<u8>>,
}

impl WalletdAnswer {
    fn text(&self) -> Option<String> {
        self.value.as_ref().and_then(|v| String::from_utf8(v.clone()).ok())
    }
}

/// The user-facing callbacks of one flow. Every member may be null. They are called on the thread that called
/// `walletd_wallet_accept_offer` / `walletd_wallet_present`, before that call returns.
#[repr(C)]
pub struct WalletdCallbacks {
    /// Passed to every callback as its first argument.
    pub user_data: *mut c_void,
    /// A step of the flow started (`step` is valid during the call).
    pub progress: Option<unsafe extern "C" fn(user_data: *mut c_void, step: *const c_char)>,
    /// The issuer wants a transaction code; `request_json` is the offer's `tx_code` object. Put the code in
    /// `answer` and return 0; any other return means none is given.
    pub tx_code: Option<
        unsafe extern "C" fn(user_data: *mut c_void, request_json: *const c_char, answer: *mut WalletdAnswer) -> i32,
    >,
    /// The issuer wants the user to authorize at `url`; put the redirect URL the browser came back with (carrying
    /// `code` and `state`) in `answer` and return 0; any other return means the user did not complete it.
    pub authorize:
        Option<unsafe extern "C" fn(user_data: *mut c_void, url: *const c_char, answer: *mut WalletdAnswer) -> i32>,
    /// The verifier asks for credentials; `request_json` is `{verifier, candidates: [{query_id, credential_id,
    /// vct, claims, values}]}`. Return `WALLETD_CONSENT_ACCEPT`, `WALLETD_CONSENT_SUBSET` (with the chosen
    /// candidates in `answer`) or `WALLETD_CONSENT_DECLINE`. Null declines.
    pub consent: Option<
        unsafe extern "C" fn(user_data: *mut c_void, request_json: *const c_char, answer: *mut WalletdAnswer) -> i32,
    >,
}

/// A signer the app supplies (keys in a platform keychain, a secure enclave, a hardware token).
#[repr(C)]
pub struct WalletdSigner {
    /// Passed to every callback as its first argument.
    pub user_data: *mut c_void,
    /// The keys: put `[{"id": "...", "jwk": {P-256 public JWK}}]` in `answer` and return 0.
    pub keys: Option<unsafe extern "C" fn(user_data: *mut c_void, answer: *mut WalletdAnswer) -> i32>,
    /// Sign `message` (`message_len` bytes) with key `key_id` for `purpose` (`issuance_proof`, `key_binding`,
    /// `device_auth`): put the 64-byte ES256 signature (r || s) in `answer` with `walletd_answer_set_bytes` and
    /// return 0. Any other return refuses; text put in `answer` then says why.
    pub sign: Option<
        unsafe extern "C" fn(
            user_data: *mut c_void,
            key_id: *const c_char,
            purpose: *const c_char,
            message: *const u8,
            message_len: usize,
            answer: *mut WalletdAnswer,
        ) -> i32,
    >,
    /// Called once when the wallet stops using the signer (replaced, or the wallet closed). May be null.
    pub release: Option<unsafe extern "C" fn(user_data: *mut c_void)>,
}

/// [`WalletdCallbacks`] as the agent's [`Ui`], with what the call's options add (a transaction code given up
/// front) and what went wrong in an answer (reported after the flow).
pub(crate) struct CUi<'a> {
    cb: Option<&'a WalletdCallbacks>,
    tx_code: Option<String>,
    /// The device configuration's `authorization.redirect_uri`, offered to issuers only when the app can authorize.
    redirect_uri: Option<String>,
    pub error: Option<Error>,
}

// SAFETY: the agent calls its Ui only from the future that `Runtime::block_on` polls on the thread that entered the
// library (the engine's own tasks never see it); the pointers are the caller's, used on the caller's thread.
unsafe impl Send for CUi<'_> {}

impl<'a> CUi<'a> {
    /// `redirect_uri` is where the issuer sends the browser back after an authorization by code; it is used only
    /// when the app gave an `authorize` callback (without one such an offer fails at the engine, clearly).
    pub fn new(cb: Option<&'a WalletdCallbacks>, tx_code: Option<String>, redirect_uri: &str) -> Self {
        let can_authorize = cb.is_some_and(|c| c.authorize.is_some());
        CUi {
            cb,
            tx_code,
            redirect_uri: can_authorize.then(|| redirect_uri.to_string()),
            error: None,
        }
    }

    /// Calls a callback that answers text; `None` when it is absent or gives no answer.
    fn ask(
        &self,
        f: Option<unsafe extern "C" fn(*mut c_void, *const c_char, *mut WalletdAnswer) -> i32>,
        arg: &str,
    ) -> Option<(i32, WalletdAnswer)> {
        let cb = self.cb?;
        let f = f?;
        let arg = temp_c(arg);
        let mut answer = WalletdAnswer::default();
        // SAFETY: the caller supplied `f` and `user_data` for exactly this call; `arg` and `answer` outlive it.
        let rc = unsafe { f(cb.user_data, arg.as_ptr(), &mut answer) };
        Some((rc, answer))
    }
}

impl Ui for CUi<'_> {
    fn progress(&mut self, step: &str) {
        if let Some(cb) = self.cb
            && let Some(f) = cb.progress
        {
            let step = temp_c(step);
            // SAFETY: as in `ask`; `step` outlives the call.
            unsafe { f(cb.user_data, step.as_ptr()) };
        }
    }

    fn tx_code(&mut self, description: &Value) -> Option<String> {
        if let Some(c) = &self.tx_code {
            return Some(c.clone());
        }
        match self.ask(self.cb.and_then(|c| c.tx_code), &description.to_string())? {
            (0, a) => a.text(),
            _ => None,
        }
    }

    fn redirect_uri(&self) -> Option<String> {
        self.redirect_uri.clone()
    }

    fn authorize(&mut self, url: &str) -> Option<String> {
        match self.ask(self.cb.and_then(|c| c.authorize), url)? {
            (0, a) => a.text(),
            _ => None,
        }
    }

    fn consent(&mut self, request: &ConsentRequest) -> Option<Vec<Candidate>> {
        let shown = json!({"verifier": request.verifier, "candidates": request.candidates.iter().map(|c| json!({
            "query_id": c.query_id, "credential_id": c.credential_id, "vct": c.vct, "claims": c.claims,
            "values": c.values})).collect::<Vec<_>>()});
        match self.ask(self.cb.and_then(|c| c.consent), &shown.to_string()) {
            Some((WALLETD_CONSENT_ACCEPT, _)) => Some(request.candidates.clone()),
            Some((WALLETD_CONSENT_SUBSET, a)) => match subset(request, a.text().as_deref()) {
                Ok(chosen) => Some(chosen),
                Err(e) => {
                    self.error = Some(e);
                    None
                }
            },
            _ => None,
        }
    }
}

/// The candidates the consent answer keeps: each must be one that was shown, with a subset of its claims.
fn subset(request: &ConsentRequest, answer: Option<&str>) -> Result<Vec<Candidate>, Error> {
    let bad = |m: &str| Error::invalid("credential_selection", format!("the consent answer {m}"));
    let v: Value = serde_json::from_str(answer.ok_or_else(|| bad("is missing or not UTF-8"))?)
        .map_err(|e| bad(&format!("is not JSON: {e}")))?;
    let items = v["candidates"]
        .as_array()
        .ok_or_else(|| bad("has no candidates array"))?;
    let mut chosen = Vec::new();
    for item in items {
        let (q, c) = (item["query_id"].as_str(), item["credential_id"].as_str());
        let shown = request
            .candidates
            .iter()
            .find(|s| Some(s.query_id.as_str()) == q && Some(s.credential_id.as_str()) == c)
            .ok_or_else(|| bad("names a candidate that was not shown"))?;
        let claims: Vec<String> = item["claims"]
            .as_array()
            .ok_or_else(|| bad("has a candidate without a claims array"))?
            .iter()
            .map(|p| {
                p.as_str()
                    .map(str::to_string)
                    .ok_or_else(|| bad("has a claim that is not a string"))
            })
            .collect::<Result<_, _>>()?;
        if let Some(p) = claims.iter().find(|p| !shown.claims.contains(p)) {
            return Err(bad(&format!("adds a claim that was not requested: {p}")));
        }
        let mut kept = shown.clone();
        kept.values.retain(|p, _| claims.contains(p));
        kept.claims = claims;
        chosen.push(kept);
    }
    Ok(chosen)
}

/// The app's [`WalletdSigner`] as a [`HolderSigner`]; `release` is called when it is dropped.
pub(crate) struct CSigner {
    table: WalletdSigner,
}

// SAFETY: the signer is called only from the flow future that `Runtime::block_on` polls on the thread that entered
// the library; the app promises (docs/native-app.md) that its callbacks may be called from any thread it calls the
// wallet from, and the wallet's lock lets one call at a time reach them.
unsafe impl Send for CSigner {}
// SAFETY: as above: one call at a time (the wallet's lock), never from the engine's tasks.
unsafe impl Sync for CSigner {}

impl CSigner {
    pub fn new(table: WalletdSigner) -> Result<CSigner, Error> {
        if table.keys.is_none() || table.sign.is_none() {
            // Nothing to release on refusal: the app keeps its user_data when the call fails.
            return Err(Error::invalid("set_signer", "the signer needs both keys and sign"));
        }
        Ok(CSigner { table })
    }
}

impl Drop for CSigner {
    fn drop(&mut self) {
        if let Some(f) = self.table.release {
            // SAFETY: the app's release callback with its own user_data, called exactly once (on drop).
            unsafe { f(self.table.user_data) };
        }
    }
}

fn refused(rc: i32, answer: &WalletdAnswer, what: &str) -> SignerError {
    let why = answer.text().filter(|t| !t.is_empty());
    SignerError::new(match why {
        Some(w) => w,
        None => format!("the app's {what} callback returned {rc}"),
    })
}

impl HolderSigner for CSigner {
    fn keys(&self) -> Result<Vec<SignerKey>, SignerError> {
        let f = self.table.keys.ok_or_else(|| SignerError::new("no keys callback"))?;
        let mut answer = WalletdAnswer::default();
        // SAFETY: the app's callback with its own user_data; `answer` outlives the call.
        let rc = unsafe { f(self.table.user_data, &mut answer) };
        if rc != 0 {
            return Err(refused(rc, &answer, "keys"));
        }
        let text = answer
            .text()
            .ok_or_else(|| SignerError::new("the keys callback gave no UTF-8 answer"))?;
        let list: Vec<Value> = serde_json::from_str(&text)
            .map_err(|e| SignerError::new(format!("the keys callback's answer is not a JSON array: {e}")))?;
        list.iter()
            .map(|k| {
                let id = k["id"]
                    .as_str()
                    .ok_or_else(|| SignerError::new("a key in the keys callback's answer has no id"))?;
                let jwk =
                    Jwk::from_value(&k["jwk"]).map_err(|_| SignerError::new(format!("key {id}: jwk is not a JWK")))?;
                Ok(SignerKey { id: id.into(), jwk })
            })
            .collect()
    }

    fn sign(&self, key_id: &str, purpose: SignPurpose, message: &[u8]) -> Result<Vec<u8>, SignerError> {
        let f = self.table.sign.ok_or_else(|| SignerError::new("no sign callback"))?;
        let (id, why) = (temp_c(key_id), temp_c(purpose.as_str()));
        let mut answer = WalletdAnswer::default();
        // SAFETY: the app's callback with its own user_data; every pointer passed outlives the call.
        let rc = unsafe {
            f(
                self.table.user_data,
                id.as_ptr(),
                why.as_ptr(),
                message.as_ptr(),
                message.len(),
                &mut answer,
            )
        };
        if rc != 0 {
            return Err(refused(rc, &answer, "sign"));
        }
        answer
            .value
            .ok_or_else(|| SignerError::new("the sign callback returned 0 but gave no signature"))
    }
}

/// Copies `bytes` into `answer` (shared by `walletd_answer_set` and `walletd_answer_set_bytes`).
pub(crate) fn set_answer(answer: &mut WalletdAnswer, bytes: &[u8]) -> Result<(), Error> {
    if bytes.len() > MAX_ANSWER_BYTES {
        return Err(Error::invalid(
            "answer",
            format!("an answer may have at most {MAX_ANSWER_BYTES} bytes"),
        ));
    }
    answer.value = Some(bytes.to_vec());
    Ok(())
}
