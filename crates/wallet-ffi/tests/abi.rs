//! The C ABI driven from Rust as an app would drive it (raw pointers, `extern "C"` callbacks): an app signer whose
//! key lives outside the store signs the OID4VCI proof and the SD-JWT key binding, consent keeps a subset of the
//! requested claims, a decline, a bad consent answer, a callback calling back into its own wallet, the Node
//! interop issuer and verifier on the other side.

use std::ffi::{CStr, CString, c_char, c_void};
use std::io::{Read, Write};
use std::ptr;

use serde_json::{Value, json};
use walletd_testkit::interop::{NodeIssuer, NodeVerifier};
use walletd_wallet::EcKey;
use walletd_wallet_ffi::*;

/// The app behind `user_data`.
struct App {
    key: EcKey,
    purposes: Vec<String>,
    released: bool,
    /// What the consent callback answers: a code and, for a subset, the JSON.
    consent: (i32, Option<String>),
    shown: Option<Value>,
    wallet: *mut WalletdWallet,
    reentrant: Option<i32>,
}

unsafe extern "C" fn keys(user_data: *mut c_void, answer: *mut WalletdAnswer) -> i32 {
    // SAFETY: user_data is the test's App, alive for the wallet's lifetime.
    let app = unsafe { &*(user_data as *const App) };
    let text = CString::new(json!([{"id": "app-key-1", "jwk": app.key.public_jwk()}]).to_string()).unwrap();
    // SAFETY: the answer pointer of this running callback.
    unsafe { walletd_answer_set(answer, text.as_ptr()) }
}

unsafe extern "C" fn sign(
    user_data: *mut c_void,
    key_id: *const c_char,
    purpose: *const c_char,
    message: *const u8,
    len: usize,
    answer: *mut WalletdAnswer,
) -> i32 {
    // SAFETY: as in `keys`; the strings and message are the library's, valid during the call.
    let (app, key_id, purpose, message) = unsafe {
        (
            &mut *(user_data as *mut App),
            CStr::from_ptr(key_id).to_str().unwrap(),
            CStr::from_ptr(purpose).to_str().unwrap(),
            std::slice::from_raw_parts(message, len),
        )
    };
    assert_eq!(key_id, "app-key-1");
    app.purposes.push(purpose.to_string());
    let sig = app.key.sign_es256(message);
    // SAFETY: the answer pointer of this running callback; `sig` outlives the call.
    unsafe { walletd_answer_set_bytes(answer, sig.as_ptr(), sig.len()) }
}

unsafe extern "C" fn release(user_data: *mut c_void) {
    // SAFETY: as in `keys`.
    unsafe { (*(user_data as *mut App)).released = true };
}

unsafe extern "C" fn consent(user_data: *mut c_void, request: *const c_char, answer: *mut WalletdAnswer) -> i32 {
    // SAFETY: as in `sign`.
    let (app, request) = unsafe { (&mut *(user_data as *mut App), CStr::from_ptr(request).to_str().unwrap()) };
    app.shown = Some(serde_json::from_str(request).unwrap());
    // A callback must not re-enter its own wallet: that call is refused, not a deadlock.
    let mut out = ptr::null_mut();
    // SAFETY: the wallet handle is live (the call that runs this callback holds it).
    app.reentrant = Some(unsafe { walletd_wallet_list(app.wallet, &mut out) });
    if let Some(text) = &app.consent.1 {
        let text = CString::new(text.as_str()).unwrap();
        // SAFETY: the answer pointer of this running callback.
        unsafe { walletd_answer_set(answer, text.as_ptr()) };
    }
    app.consent.0
}

/// Takes a string the library returned, as JSON, and frees it.
fn take(s: *mut c_char) -> Value {
    assert!(!s.is_null());
    // SAFETY: a string the library returned; freed once, here.
    let v = serde_json::from_str(unsafe { CStr::from_ptr(s) }.to_str().unwrap()).unwrap();
    // SAFETY: as above.
    unsafe { walletd_string_free(s) };
    v
}

fn last_error() -> Value {
    take(walletd_last_error())
}

/// The wallet configuration of the tests that talk to the Node peers: plain http to 127.0.0.1, a cheap KDF.
const LOOPBACK_PEERS_CONFIG: &str = "egress:\n  allow_http: true\n  allowed_cidrs: [127.0.0.1/32]\n  \
    total_timeout: 10s\nstore:\n  kdf:\n    m_cost_kib: 1024\n    t_cost: 1\n    p_cost: 1\n";

fn c(s: &str) -> CString {
    CString::new(s).unwrap()
}

/// The app state behind `user_data` (reached through the raw pointer only, as C would).
fn app<'a>(p: *mut App) -> &'a mut App {
    // SAFETY: the test's App, alive until the end of the test, used by one thread, never borrowed across a call.
    unsafe { &mut *p }
}

#[test]
fn an_app_signer_consent_with_a_subset_and_a_decline() {
    // The app's own runtime for the test hooks of the Node peers; the wallet calls are made outside it.
    let rt = tokio::runtime::Runtime::new().unwrap();
    let issuer = NodeIssuer::start();
    let verifier = NodeVerifier::start();
    let tmp = tempfile::tempdir().unwrap();
    let config = c(LOOPBACK_PEERS_CONFIG);
    let dir = c(tmp.path().join("w").to_str().unwrap());
    let key = [7u8; 32];
    let mut w: *mut WalletdWallet = ptr::null_mut();
    // SAFETY: valid strings, a 32-byte key and an out-pointer for the whole call.
    let rc = unsafe {
        walletd_wallet_open_with_key(
            dir.as_ptr(),
            key.as_ptr(),
            32,
            config.as_ptr(),
            WALLETD_OPEN_CREATE,
            &mut w,
        )
    };
    assert_eq!(rc, WALLETD_OK);
    let state = Box::into_raw(Box::new(App {
        key: EcKey::generate(),
        purposes: Vec::new(),
        released: false,
        consent: (WALLETD_CONSENT_ACCEPT, None),
        shown: None,
        wallet: w,
        reentrant: None,
    }));
    let user_data = state as *mut c_void;
    let table = WalletdSigner {
        user_data,
        keys: Some(keys),
        sign: Some(sign),
        release: Some(release),
    };
    // SAFETY: a live handle and a readable table; the App outlives the wallet.
    assert_eq!(unsafe { walletd_wallet_set_signer(w, &table) }, WALLETD_OK);

    // Issuance: the proof comes from the app's key, the credential records it.
    let offer = rt.block_on(issuer.offer(json!({"grant": "pre", "tx_code": true})));
    let offer_uri = c(offer["offer"].as_str().unwrap());
    let opts = c(&json!({"tx_code": offer["tx_code_value"]}).to_string());
    let mut out = ptr::null_mut();
    // SAFETY: live handle, valid strings, a writable out-pointer.
    let rc = unsafe { walletd_wallet_accept_offer(w, offer_uri.as_ptr(), opts.as_ptr(), ptr::null(), &mut out) };
    assert_eq!(rc, WALLETD_OK, "{}", last_error());
    let issued = take(out);
    assert_eq!(issued["credentials"][0]["key_id"], "app-key-1", "{issued}");
    let id = issued["credentials"][0]["id"].as_str().unwrap().to_string();

    // Presentation: asked for two claims, the app keeps one; the key binding is the app's signature.
    let vct = format!("{}/vct/pid", issuer.url);
    let present = |claims: &[&str], answer: (i32, Option<String>)| {
        app(state).consent = answer;
        let req = rt.block_on(verifier.request(json!({"query": "dcql", "scheme": "x509_hash",
            "claims": claims, "vct": vct})));
        let url = c(req["url"].as_str().unwrap());
        let cb = WalletdCallbacks {
            user_data,
            progress: None,
            tx_code: None,
            authorize: None,
            consent: Some(consent),
        };
        let mut out = ptr::null_mut();
        // SAFETY: live handle, valid strings and callbacks, a writable out-pointer.
        let rc = unsafe { walletd_wallet_present(w, url.as_ptr(), ptr::null(), &cb, &mut out) };
        let result = if rc == WALLETD_OK { take(out) } else { last_error() };
        (rc, result, rt.block_on(verifier.result(&req["id"])))
    };
    let (rc, result, verdict) = present(&["given_name"], (WALLETD_CONSENT_ACCEPT, None));
    assert_eq!(rc, WALLETD_OK, "{result}");
    assert_eq!(verdict["verified"], true, "{verdict}");
    assert_eq!(result["disclosed"][0]["claims"], json!(["given_name"]), "{result}");
    assert_eq!(app(state).purposes, ["issuance_proof", "key_binding"]);
    assert_eq!(app(state).reentrant, Some(WALLETD_ERR_BUSY));

    // Asked for two claims, the app keeps one (the consent request showed both values); the interop verifier
    // decides that one is not enough, but it never received the other.
    let keep = json!({"candidates": [{"query_id": "pid", "credential_id": id, "claims": ["given_name"]}]});
    let (_, _, verdict) = present(
        &["given_name", "family_name"],
        (WALLETD_CONSENT_SUBSET, Some(keep.to_string())),
    );
    assert_eq!(verdict["posts"], 1, "{verdict}");
    assert!(!verdict["disclosed"].to_string().contains("family_name"), "{verdict}");
    let shown = app(state).shown.take().unwrap();
    assert_eq!(shown["candidates"][0]["values"]["family_name"], "Mustermann", "{shown}");
    assert_eq!(app(state).purposes.len(), 3);

    // A decline shares nothing; a subset that adds a claim is refused (and shares nothing either).
    let (rc, result, verdict) = present(&["given_name"], (WALLETD_CONSENT_DECLINE, None));
    assert_eq!(rc, WALLETD_ERR_DECLINED, "{result}");
    assert_eq!(result["kind"], "declined");
    assert_ne!(verdict["verified"], true, "{verdict}");
    let more = json!({"candidates": [{"query_id": "pid", "credential_id": id, "claims": ["birthdate"]}]});
    let (rc, result, _) = present(&["given_name"], (WALLETD_CONSENT_SUBSET, Some(more.to_string())));
    assert_eq!(rc, WALLETD_ERR_INVALID_ARGUMENT, "{result}");
    assert!(
        result["message"].as_str().unwrap().contains("not requested"),
        "{result}"
    );
    assert_eq!(app(state).purposes.len(), 3, "nothing more was signed");

    let mut out = ptr::null_mut();
    // SAFETY: live handle, a writable out-pointer.
    assert_eq!(unsafe { walletd_wallet_history(w, &mut out) }, WALLETD_OK);
    let outcomes: Vec<Value> = take(out)["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["outcome"].clone())
        .collect();
    assert_eq!(outcomes[0], "presented");
    assert_eq!(outcomes[2..], [json!("declined"), json!("declined")]);

    // Delete, then the credential is gone; closing releases the app's signer.
    let cid = c(&id);
    // SAFETY: live handle, valid strings, writable out-pointers.
    unsafe {
        assert_eq!(walletd_wallet_delete(w, cid.as_ptr(), &mut out), WALLETD_OK);
        take(out);
        assert_eq!(walletd_wallet_show(w, cid.as_ptr(), &mut out), WALLETD_ERR_NOT_FOUND);
        assert_eq!(walletd_wallet_close(w), WALLETD_OK);
    }
    assert!(app(state).released);
    // SAFETY: from Box::into_raw above; the wallet (and so every callback) is gone.
    drop(unsafe { Box::from_raw(state) });
}

#[test]
fn bad_arguments_are_error_codes_with_json() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = c(tmp.path().join("w").to_str().unwrap());
    let mut w: *mut WalletdWallet = ptr::null_mut();
    // SAFETY: every pointer is null or valid; the calls must refuse what is wrong.
    unsafe {
        assert_eq!(
            walletd_wallet_open(dir.as_ptr(), c("p").as_ptr(), ptr::null(), 0, ptr::null_mut()),
            WALLETD_ERR_INVALID_ARGUMENT
        );
        assert_eq!(last_error()["step"], "out_wallet");
        assert_eq!(
            walletd_wallet_open(dir.as_ptr(), ptr::null(), ptr::null(), 0, &mut w),
            WALLETD_ERR_INVALID_ARGUMENT
        );
        let bad_config = c("egress:\n  allow_htp: true\n");
        assert_eq!(
            walletd_wallet_open(
                dir.as_ptr(),
                c("p").as_ptr(),
                bad_config.as_ptr(),
                WALLETD_OPEN_CREATE,
                &mut w
            ),
            WALLETD_ERR_CONFIG
        );
        let e = last_error();
        assert_eq!(e["kind"], "config");
        assert!(e["message"].as_str().unwrap().contains("egress"), "{e}");
        assert_eq!(
            walletd_answer_set(ptr::null_mut(), c("x").as_ptr()),
            WALLETD_ERR_INVALID_ARGUMENT
        );
        assert_eq!(
            walletd_wallet_set_signer(ptr::null_mut(), ptr::null()),
            WALLETD_ERR_INVALID_ARGUMENT
        );
        assert!(walletd_wallet_open(dir.as_ptr(), c("p").as_ptr(), ptr::null(), WALLETD_OPEN_CREATE, &mut w) == 0);
        assert!(walletd_last_error().is_null());
        let mut out = ptr::null_mut();
        assert_eq!(walletd_wallet_list(w, &mut out), WALLETD_OK);
        assert_eq!(take(out)["signer"], "store");
        // The directory is locked while the handle is open: a second handle on it is refused, not a lost update.
        let mut second: *mut WalletdWallet = ptr::null_mut();
        assert_eq!(
            walletd_wallet_open(dir.as_ptr(), c("p").as_ptr(), ptr::null(), 0, &mut second),
            WALLETD_ERR_BUSY
        );
        assert!(second.is_null());
        assert_eq!(last_error()["kind"], "busy");
        assert_eq!(walletd_wallet_close(w), WALLETD_OK);
        assert_eq!(
            walletd_wallet_open(dir.as_ptr(), c("p").as_ptr(), ptr::null(), 0, &mut second),
            WALLETD_OK
        );
        assert_eq!(walletd_wallet_close(second), WALLETD_OK);
    }
}

/// The app's "browser": one GET of the authorization URL (the Node issuer approves at once and redirects) and the
/// redirect it answers, which is what a real app reads from its web view.
unsafe extern "C" fn authorize(_: *mut c_void, url: *const c_char, answer: *mut WalletdAnswer) -> i32 {
    // SAFETY: the library passes a NUL-terminated URL valid for this call.
    let url = unsafe { CStr::from_ptr(url) }.to_str().unwrap();
    let rest = url.strip_prefix("http://").expect("the test issuer is plain http");
    let (host, path) = rest.split_at(rest.find('/').unwrap());
    let mut s = std::net::TcpStream::connect(host).unwrap();
    write!(s, "GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n").unwrap();
    let mut head = String::new();
    s.read_to_string(&mut head).unwrap();
    let Some(location) = head
        .lines()
        .find_map(|l| l.strip_prefix("location: ").or_else(|| l.strip_prefix("Location: ")))
    else {
        return 1;
    };
    let location = CString::new(location.trim()).unwrap();
    // SAFETY: the answer pointer of this running callback.
    unsafe { walletd_answer_set(answer, location.as_ptr()) }
}

#[test]
fn an_authorization_code_offer_is_completed_through_the_authorize_callback() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let issuer = NodeIssuer::start();
    let tmp = tempfile::tempdir().unwrap();
    let config = c(LOOPBACK_PEERS_CONFIG);
    let dir = c(tmp.path().join("w").to_str().unwrap());
    let mut w: *mut WalletdWallet = ptr::null_mut();
    // SAFETY: valid strings and an out-pointer for the whole call.
    let rc = unsafe {
        walletd_wallet_open(
            dir.as_ptr(),
            c("p").as_ptr(),
            config.as_ptr(),
            WALLETD_OPEN_CREATE,
            &mut w,
        )
    };
    assert_eq!(rc, WALLETD_OK, "{}", last_error());
    let offer = rt.block_on(issuer.offer(json!({"grant": "auth"})));
    let offer_uri = c(offer["offer"].as_str().unwrap());
    let mut out = ptr::null_mut();
    // Without an authorize callback the wallet cannot do this grant: a clear flow error.
    // SAFETY: live handle, valid strings, a writable out-pointer.
    let rc = unsafe { walletd_wallet_accept_offer(w, offer_uri.as_ptr(), ptr::null(), ptr::null(), &mut out) };
    assert_eq!(rc, WALLETD_ERR_FLOW, "{}", last_error());
    let offer = rt.block_on(issuer.offer(json!({"grant": "auth"})));
    let offer_uri = c(offer["offer"].as_str().unwrap());
    let cb = WalletdCallbacks {
        user_data: ptr::null_mut(),
        progress: None,
        tx_code: None,
        authorize: Some(authorize),
        consent: None,
    };
    // SAFETY: as above, and callbacks valid for the call.
    let rc = unsafe { walletd_wallet_accept_offer(w, offer_uri.as_ptr(), ptr::null(), &cb, &mut out) };
    assert_eq!(rc, WALLETD_OK, "{}", last_error());
    let issued = take(out);
    assert_eq!(
        issued["credentials"][0]["vct"],
        format!("{}/vct/pid", issuer.url),
        "{issued}"
    );
    // SAFETY: a live handle, closed once.
    assert_eq!(unsafe { walletd_wallet_close(w) }, WALLETD_OK);
}
