//! The C program of tests/c/issue.c, compiled with the system `cc` against include/walletd_wallet.h and linked with
//! the cdylib cargo built beside this test, runs a pre-authorized issuance against the Node interop issuer with the
//! embedded engine, and the calls that must fail cleanly.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{Value, json};
use walletd_testkit::interop::NodeIssuer;

/// The directory holding `libwalletd_wallet_ffi.so` (cargo puts it in `deps/` and copies it one level up).
fn library_dir() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let deps = exe.parent().unwrap().to_path_buf();
    let name = format!(
        "{}walletd_wallet_ffi{}",
        std::env::consts::DLL_PREFIX,
        std::env::consts::DLL_SUFFIX
    );
    [deps.clone(), deps.parent().unwrap().to_path_buf()]
        .into_iter()
        .find(|d| d.join(&name).exists())
        .unwrap_or_else(|| panic!("no {name} beside {}", deps.display()))
}

/// Compiles tests/c/`source` into `out` with warnings as errors.
fn compile(source: &str, out: &Path) {
    let crate_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    let lib = library_dir();
    let status = Command::new(std::env::var("CC").unwrap_or_else(|_| "cc".into()))
        .args(["-std=c11", "-Wall", "-Wextra", "-Werror", "-pedantic"])
        .arg("-I")
        .arg(crate_dir.join("include"))
        .arg(crate_dir.join("tests/c").join(source))
        .arg("-L")
        .arg(&lib)
        .arg("-lwalletd_wallet_ffi")
        // The program's own signer keeps its key in OpenSSL's libcrypto (libssl-dev, installed by .ci/run).
        .arg("-lcrypto")
        .arg(format!("-Wl,-rpath,{}", lib.display()))
        .arg("-o")
        .arg(out)
        .status()
        .expect("the system C compiler (cc) runs");
    assert!(status.success(), "cc failed on {source}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_c_program_runs_an_issuance_with_the_embedded_engine() {
    let tmp = tempfile::tempdir().unwrap();
    let program = tmp.path().join("issue");
    compile("issue.c", &program);

    let issuer = NodeIssuer::start();
    let refused = issuer.offer(json!({"grant": "pre", "tx_code": true})).await;
    let ok = issuer.offer(json!({"grant": "pre", "tx_code": true})).await;
    let app_key = issuer.offer(json!({"grant": "pre", "tx_code": true})).await;
    let config = tmp.path().join("device.yaml");
    // The interop issuer listens on 127.0.0.1 over http; a small KDF keeps the test quick.
    std::fs::write(
        &config,
        "egress:\n  allow_http: true\n  allowed_cidrs: [127.0.0.1/32]\n  total_timeout: 10s\n\
         store:\n  kdf:\n    m_cost_kib: 1024\n    t_cost: 1\n    p_cost: 1\n",
    )
    .unwrap();
    let dir = tmp.path().join("wallet");
    let arg = |v: &Value, k: &str| v[k].as_str().unwrap().to_string();
    let run = tokio::task::spawn_blocking({
        let (program, dir, config) = (program.clone(), dir.clone(), config.clone());
        let args = [
            arg(&refused, "offer"),
            arg(&ok, "offer"),
            arg(&app_key, "offer"),
            arg(&refused, "tx_code_value"),
            arg(&ok, "tx_code_value"),
            arg(&app_key, "tx_code_value"),
        ];
        move || Command::new(program).arg(dir).arg(config).args(args).output().unwrap()
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&run.stdout);
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(
        run.status.success(),
        "the C program failed\nstdout:\n{stdout}\nstderr:\n{stderr}"
    );
    assert!(stdout.contains("ok refused signature is a signer error"), "{stdout}");
    eprintln!("{stdout}");
    let list: Value = stdout
        .lines()
        .find_map(|l| l.strip_prefix("list "))
        .map(|j| serde_json::from_str(j).unwrap())
        .expect("the program prints the list");
    let creds = list["credentials"].as_array().unwrap();
    assert_eq!(creds.len(), 2, "{list}");
    for c in creds {
        assert_eq!(c["vct"], format!("{}/vct/pid", issuer.url), "{list}");
    }
    assert_eq!(
        creds[0]["key_id"], list["keys"][0]["id"],
        "bound to the store's key: {list}"
    );
    assert_eq!(creds[1]["key_id"], "c-key", "bound to the app's key: {list}");
    assert_eq!(
        list["keys"].as_array().unwrap().len(),
        1,
        "the app's key is not in the store: {list}"
    );
    assert!(dir.join("wallet.store").exists());
}
