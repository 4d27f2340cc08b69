//! The authorization step of an issuance by authorization code. The engine gives an authorization URL at the
//! issuer; the user opens it in a browser, signs in, and the browser is sent to the wallet's redirect URI with
//! `code` and `state`. The CLI gets that redirect back in one of two ways:
//!
//! - interactively: the URL is printed on stderr and the redirect is read from stdin (pasted);
//! - from a program (`--authorize-with PROGRAM`): run as `PROGRAM <authorization-url>` without a shell, it prints
//!   the redirect on its first line of stdout (a script driving a browser, or a test).
//!
//! Both are checked the same way: the authorization URL must be http(s) (it comes from the issuer's metadata and is
//! handed to a browser or a program), it is printed in its parsed form (no control characters reach the terminal),
//! and the answer must be the configured redirect URI (same scheme, host, port and path) with a `code`, or an
//! OAuth error, which is reported as such. The engine then checks `state`.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use url::Url;
use walletd_wallet::device::AuthorizationSection;

/// Environment variables the authorization program does not inherit (it only needs the URL).
const WITHHELD_ENV: &[&str] = &[crate::commands::PASSPHRASE_ENV, crate::commands::ENGINE_TOKEN_ENV];

/// How the redirect comes back.
#[derive(Debug, Clone)]
pub enum Source {
    /// Pasted on stdin after a prompt on stderr.
    Prompt,
    /// Printed by this program.
    Program(PathBuf),
}

/// The authorization URL, checked: http(s) only, in its parsed (escaped) form.
pub fn check_authorization_url(url: &str) -> Result<Url, String> {
    let u = Url::parse(url).map_err(|e| format!("the issuer's authorization URL does not parse: {e}"))?;
    if !matches!(u.scheme(), "https" | "http") || u.host().is_none() {
        return Err(format!(
            "the issuer's authorization URL must be http(s) with a host, not {}:",
            u.scheme()
        ));
    }
    Ok(u)
}

/// The redirect the user or the program gave back, checked against `expected`: the URL to hand to the engine.
pub fn check_redirect(answer: &str, expected: &Url) -> Result<String, String> {
    let answer = answer.trim();
    let u = Url::parse(answer).map_err(|e| format!("the redirect does not parse as a URL: {e}"))?;
    let same = u.scheme() == expected.scheme()
        && u.host_str() == expected.host_str()
        && u.port_or_known_default() == expected.port_or_known_default()
        && u.path() == expected.path();
    if !same {
        return Err(format!(
            "the redirect is not to the wallet's redirect URI {expected} (authorization.redirect_uri)"
        ));
    }
    let param = |k: &str| u.query_pairs().find(|(n, _)| n == k).map(|(_, v)| v.into_owned());
    if let Some(e) = param("error") {
        let why = param("error_description").unwrap_or_default();
        return Err(format!("the issuer refused the authorization: {e} {why}")
            .trim()
            .to_string());
    }
    if param("code").is_none_or(|c| c.is_empty()) {
        return Err("the redirect has no authorization code".into());
    }
    Ok(u.to_string())
}

/// Asks for the redirect: prompt or program. `Err` says why there is none.
pub fn obtain(source: &Source, url: &Url, cfg: &AuthorizationSection) -> Result<String, String> {
    let answer = match source {
        Source::Prompt => {
            eprintln!("Sign in at the issuer: open this address in a browser:\n  {url}");
            let prompt = format!(
                "Then paste the address the browser was sent to (it starts with {}): ",
                cfg.redirect_uri
            );
            crate::ui::read_line_bounded(&prompt, cfg.max_response_bytes)
                .ok_or("no redirect was given (end of input)")?
        }
        Source::Program(p) => run_program(p, url, cfg)?,
    };
    check_redirect(&answer, &cfg.redirect_uri)
}

/// Runs `program <url>` (no shell), waits up to the configured timeout, returns the first line it printed.
fn run_program(program: &Path, url: &Url, cfg: &AuthorizationSection) -> Result<String, String> {
    let mut cmd = Command::new(program);
    cmd.arg(url.as_str())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    for k in WITHHELD_ENV {
        cmd.env_remove(k);
    }
    let name = program.display();
    let mut child = cmd.spawn().map_err(|e| format!("cannot run {name}: {e}"))?;
    let mut out = child.stdout.take().ok_or("no stdout")?;
    let limit = cfg.max_response_bytes as u64;
    let reader = std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = (&mut out).take(limit + 1).read_to_end(&mut buf);
        buf
    });
    let deadline = Instant::now() + cfg.command_timeout;
    let status = loop {
        match child.try_wait() {
            Ok(Some(s)) => break s,
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(20)),
            Ok(None) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!(
                    "{name} did not finish within {:?} (authorization.command_timeout)",
                    cfg.command_timeout
                ));
            }
            Err(e) => return Err(format!("cannot wait for {name}: {e}")),
        }
    };
    let buf = reader.join().unwrap_or_default();
    // The size first: a program cut off at the limit may die of SIGPIPE, and the limit is the reason it failed.
    if buf.len() as u64 > limit {
        return Err(format!(
            "{name} printed more than {limit} bytes (authorization.max_response_bytes)"
        ));
    }
    if !status.success() {
        return Err(format!("{name} failed ({status})"));
    }
    let text = String::from_utf8(buf).map_err(|_| format!("{name} printed something that is not UTF-8"))?;
    text.lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .map(str::to_string)
        .ok_or_else(|| format!("{name} printed no redirect"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg() -> AuthorizationSection {
        AuthorizationSection::default()
    }

    #[test]
    fn the_authorization_url_must_be_http_and_is_printed_escaped() {
        assert!(check_authorization_url("javascript:alert(1)").is_err());
        assert!(check_authorization_url("file:///etc/passwd").is_err());
        assert!(check_authorization_url("not a url").is_err());
        let u = check_authorization_url("https://as.example/authorize?x=\u{1b}[31m").unwrap();
        assert!(!u.as_str().contains('\u{1b}'), "{u}");
    }

    #[test]
    fn the_redirect_must_be_ours_carry_a_code_or_report_the_issuers_error() {
        let ours = cfg().redirect_uri;
        let ok = check_redirect("  http://127.0.0.1/callback?code=abc&state=s1 \n", &ours).unwrap();
        assert_eq!(
            walletd_wallet::client::code_and_state(&ok),
            ("abc".to_string(), "s1".to_string())
        );
        for (answer, why) in [
            ("https://127.0.0.1/callback?code=a", "redirect URI"),
            ("http://127.0.0.1:8080/callback?code=a", "redirect URI"),
            ("http://evil.example/callback?code=a", "redirect URI"),
            ("http://127.0.0.1/other?code=a", "redirect URI"),
            ("http://127.0.0.1/callback?state=s", "no authorization code"),
            ("nonsense", "does not parse"),
            (
                "http://127.0.0.1/callback?error=access_denied&error_description=user+said+no",
                "refused the authorization: access_denied user said no",
            ),
        ] {
            let err = check_redirect(answer, &ours).unwrap_err();
            assert!(err.contains(why), "{answer}: {err}");
        }
    }

    #[cfg(unix)]
    #[test]
    fn a_program_is_run_without_a_shell_bounded_in_time_and_output() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let script = |name: &str, body: &str| {
            let p = dir.path().join(name);
            std::fs::write(&p, format!("#!/bin/sh\n{body}\n")).unwrap();
            std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o700)).unwrap();
            Source::Program(p)
        };
        let url = check_authorization_url("http://127.0.0.1:9/authorize?a=1;b").unwrap();
        // The URL arrives as one argument, untouched by a shell.
        let echo = script(
            "echo.sh",
            "test \"$1\" = 'http://127.0.0.1:9/authorize?a=1;b' || exit 3\n\
             echo 'http://127.0.0.1/callback?code=c&state=s'",
        );
        assert_eq!(
            obtain(&echo, &url, &cfg()).unwrap(),
            "http://127.0.0.1/callback?code=c&state=s"
        );
        let failing = script("fail.sh", "exit 2");
        assert!(obtain(&failing, &url, &cfg()).unwrap_err().contains("failed"));
        let slow = script("slow.sh", "exec sleep 5");
        let short = AuthorizationSection {
            command_timeout: Duration::from_millis(200),
            ..cfg()
        };
        let err = obtain(&slow, &url, &short).unwrap_err();
        assert!(err.contains("command_timeout"), "{err}");
        let chatty = script("chatty.sh", "head -c 20000 /dev/zero | tr '\\0' a");
        let err = obtain(&chatty, &url, &cfg()).unwrap_err();
        assert!(err.contains("max_response_bytes"), "{err}");
        let missing = Source::Program(dir.path().join("absent"));
        assert!(obtain(&missing, &url, &cfg()).unwrap_err().contains("cannot run"));
    }
}
