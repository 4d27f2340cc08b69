//! What the command line asks the user: progress lines on stderr, the consent prompt (or `--yes`), the claims to
//! keep (`--claims`), a transaction code (`--tx-code` or a prompt).

use std::io::{BufRead, IsTerminal, Read, Write};

use serde_json::Value;
use walletd_wallet::agent::{Candidate, ConsentRequest, Ui};
use walletd_wallet::device::AuthorizationSection;

use crate::authorize::{self, Source};

/// The terminal's answers.
pub struct Terminal {
    /// Print progress lines.
    pub progress: bool,
    /// Consent without asking.
    pub yes: bool,
    /// Keep only these claims (of the requested ones).
    pub claims: Option<Vec<String>>,
    /// The transaction code given on the command line.
    pub tx_code: Option<String>,
    /// What the user was shown and chose, for `--json`.
    pub shown: Option<Value>,
    /// How an authorization-code issuance gets the redirect back, and its settings.
    pub authorization: Option<(Source, AuthorizationSection)>,
    /// Why the last question got no answer (reported in the command's error).
    pub problem: Option<String>,
}

impl Terminal {
    pub fn new(progress: bool) -> Self {
        Terminal {
            progress,
            yes: false,
            claims: None,
            tx_code: None,
            shown: None,
            authorization: None,
            problem: None,
        }
    }
}

/// One line from stdin (blocking the worker thread briefly: the runtime has others for the engine).
fn read_line(prompt: &str) -> Option<String> {
    read_line_bounded(prompt, 4096)
}

/// One line of at most `max` bytes from stdin (a longer line is cut there), after `prompt` on stderr.
pub fn read_line_bounded(prompt: &str, max: usize) -> Option<String> {
    tokio::task::block_in_place(|| {
        eprint!("{prompt}");
        let _ = std::io::stderr().flush();
        let mut line = Vec::new();
        match std::io::stdin().lock().take(max as u64).read_until(b'\n', &mut line) {
            Ok(0) | Err(_) => None,
            Ok(_) => Some(String::from_utf8_lossy(&line).trim().to_string()),
        }
    })
}

fn verifier_name(v: &Value) -> String {
    ["name", "client_name", "client_id", "id"]
        .iter()
        .find_map(|k| v.get(*k).and_then(Value::as_str))
        .unwrap_or("an unnamed verifier")
        .to_string()
}

impl Ui for Terminal {
    fn progress(&mut self, step: &str) {
        if self.progress {
            eprintln!("... {step}");
        }
    }

    fn tx_code(&mut self, description: &Value) -> Option<String> {
        if let Some(c) = &self.tx_code {
            return Some(c.clone());
        }
        if !std::io::stdin().is_terminal() {
            return None;
        }
        let hint = description["description"]
            .as_str()
            .unwrap_or("the issuer sent a transaction code");
        read_line(&format!("Transaction code ({hint}): "))
    }

    fn redirect_uri(&self) -> Option<String> {
        self.authorization.as_ref().map(|(_, cfg)| cfg.redirect_uri.to_string())
    }

    fn authorize(&mut self, url: &str) -> Option<String> {
        let (source, cfg) = self.authorization.as_ref()?;
        let answer = authorize::check_authorization_url(url)
            .and_then(|u| tokio::task::block_in_place(|| authorize::obtain(source, &u, cfg)));
        match answer {
            Ok(redirect) => Some(redirect),
            Err(why) => {
                self.problem = Some(why);
                None
            }
        }
    }

    fn consent(&mut self, request: &ConsentRequest) -> Option<Vec<Candidate>> {
        let mut chosen: Vec<Candidate> = request.candidates.clone();
        if let Some(keep) = &self.claims {
            for c in &mut chosen {
                c.claims.retain(|p| keep.iter().any(|k| k == p));
                c.values.retain(|p, _| keep.iter().any(|k| k == p));
            }
        }
        eprintln!("{} asks for:", verifier_name(&request.verifier));
        for c in &chosen {
            eprintln!("  {} ({}):", c.credential_id, c.vct.as_deref().unwrap_or("credential"));
            for p in &c.claims {
                let v = c.values.get(p).map(Value::to_string).unwrap_or_default();
                eprintln!("    {p} = {v}");
            }
        }
        self.shown = Some(serde_json::json!({
            "verifier": request.verifier,
            "disclosed": chosen.iter().map(|c| serde_json::json!({"credential_id": c.credential_id, "claims": c.claims}))
                .collect::<Vec<_>>(),
        }));
        if self.yes {
            return Some(chosen);
        }
        match read_line("Share these? [y/N] ") {
            Some(a) if a.eq_ignore_ascii_case("y") || a.eq_ignore_ascii_case("yes") => Some(chosen),
            _ => None,
        }
    }
}
