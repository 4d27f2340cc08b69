//! Durability: every write acknowledged before a SIGKILL is there after the restart.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use reqwest::Method;
use serde_json::json;
use walletd_testkit::TestDatabase;

use super::{Dev, data_of, list_all, start};

/// SIGKILL while a client writes, 5 rounds: every write answered 2xx is there after the restart.
async fn acknowledged_writes_survive_sigkill(db: TestDatabase) {
    let mut acked: BTreeMap<String, Vec<u8>> = BTreeMap::new();
    for round in 0..5u32 {
        let w = start(&db).await;
        let d = Dev::new(&w, "default", "max");
        // Everything acknowledged in earlier rounds is there.
        let present = list_all(&d).await;
        for (id, data) in &acked {
            assert_eq!(
                present.get(id),
                Some(data),
                "round {round}: acknowledged write {id} lost"
            );
        }
        // Write concurrently until the process is killed under the writers.
        let writers: Vec<_> = (0..4)
            .map(|n| {
                let d = d.clone();
                tokio::spawn(async move {
                    let mut mine = Vec::new();
                    for i in 0..10_000u32 {
                        let id = format!("r{round}-w{n}-{i}");
                        let data = format!("{id}:{}", "x".repeat(200)).into_bytes();
                        // The kill cuts requests off mid-flight: an error or a non-2xx ends this writer.
                        let sent = d
                            .req(Method::PUT, &format!("/storage/credentials/{id}"))
                            .json(&json!({"data": B64.encode(&data)}))
                            .send()
                            .await;
                        match sent {
                            Ok(r) if r.status().is_success() => mine.push((id, data)),
                            _ => break,
                        }
                    }
                    mine
                })
            })
            .collect();
        tokio::time::sleep(Duration::from_millis(300 + 150 * u64::from(round))).await;
        w.signal(libc::SIGKILL);
        let mut written = 0;
        for t in writers {
            for (id, data) in t.await.unwrap() {
                acked.insert(id, data);
                written += 1;
            }
        }
        assert!(written > 0, "round {round}: no write was acknowledged before the kill");
        drop(w);
    }
    let w = start(&db).await;
    let d = Dev::new(&w, "default", "max");
    let mut seen: BTreeSet<String> = BTreeSet::new();
    let mut cursor = String::new();
    for _ in 0..1000 {
        let page = d.sync(&cursor).await;
        for c in page["changes"].as_array().unwrap() {
            let id = c["id"].as_str().unwrap().to_string();
            if let Some(data) = acked.get(&id) {
                assert_eq!(&data_of(c), data);
            }
            seen.insert(id);
        }
        cursor = page["cursor"].as_str().unwrap().to_string();
        if page["has_more"] == false {
            break;
        }
    }
    let missing: Vec<_> = acked.keys().filter(|k| !seen.contains(*k)).collect();
    assert!(missing.is_empty(), "acknowledged but lost after SIGKILL: {missing:?}");
}

walletd_testkit::on_both_databases!(acknowledged_writes_survive_sigkill);
