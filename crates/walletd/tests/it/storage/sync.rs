//! The sync feed between devices, convergence under concurrent writes, and compare-and-swap writers.

use std::collections::BTreeMap;
use std::time::Duration;

use reqwest::{Method, StatusCode};
use walletd_testkit::TestDatabase;

use super::{Dev, converge, data_of, list_all, send, start};

async fn sync_between_devices(db: TestDatabase) {
    let w = start(&db).await;
    let a = Dev::new(&w, "default", "alice");
    let b = Dev::new(&w, "default", "alice");
    for id in ["x", "y", "z"] {
        assert_eq!(a.put(id, id.as_bytes(), None).await.0, StatusCode::CREATED);
    }
    assert_eq!(
        send(a.req(Method::DELETE, "/storage/credentials/y")).await.0,
        StatusCode::NO_CONTENT
    );
    let page = b.sync("").await;
    let changes = page["changes"].as_array().unwrap();
    let got: BTreeMap<&str, bool> = changes
        .iter()
        .map(|c| (c["id"].as_str().unwrap(), c["deleted"].as_bool().unwrap()))
        .collect();
    assert_eq!(got, BTreeMap::from([("x", false), ("y", true), ("z", false)]));
    for c in changes {
        if c["deleted"] == false {
            assert_eq!(data_of(c), c["id"].as_str().unwrap().as_bytes());
        } else {
            assert!(c.get("data").is_none());
        }
    }
    assert_eq!(
        (page["has_more"].as_bool(), page["reset_required"].as_bool()),
        (Some(false), Some(false))
    );
    let cursor = page["cursor"].as_str().unwrap().to_string();
    // Only what changed since the cursor.
    a.put("x", b"x2", Some(1)).await;
    a.put("w", b"w", None).await;
    let next = b.sync(&cursor).await;
    let ids: Vec<&str> = next["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["x", "w"]);
    let last = b.sync(next["cursor"].as_str().unwrap()).await;
    assert!(last["changes"].as_array().unwrap().is_empty());
}

async fn two_devices_writing_and_syncing_converge(db: TestDatabase) {
    let w = start(&db).await;
    let devices = [Dev::new(&w, "default", "carol"), Dev::new(&w, "default", "carol")];
    let tasks: Vec<_> = devices
        .iter()
        .enumerate()
        .map(|(n, dev)| {
            let dev = dev.clone();
            tokio::spawn(async move {
                let mut local = BTreeMap::new();
                let mut cursor = String::new();
                for i in 0..30 {
                    // Own blobs, a shared blob, and some deletes, interleaved with syncs.
                    dev.put(&format!("d{n}-{}", i % 7), format!("{n}:{i}").as_bytes(), None)
                        .await;
                    dev.put("shared", format!("{n}:{i}").as_bytes(), None).await;
                    if i % 5 == 4 {
                        send(dev.req(Method::DELETE, &format!("/storage/credentials/d{n}-{}", i % 3))).await;
                    }
                    if i % 3 == 0 {
                        converge(&dev, &mut local, &mut cursor).await;
                    }
                }
                (dev, local, cursor)
            })
        })
        .collect();
    let mut states = Vec::new();
    for t in tasks {
        states.push(t.await.unwrap());
    }
    // Both devices stopped writing: a final sync each.
    let mut finals = Vec::new();
    for (dev, mut local, mut cursor) in states {
        converge(&dev, &mut local, &mut cursor).await;
        finals.push(local);
    }
    assert_eq!(finals[0], finals[1], "both devices see the same state");
    // ... which is the server's.
    assert_eq!(finals[0], list_all(&devices[0]).await);
}

/// 50 concurrent writers with the same If-Match, several rounds: exactly one 2xx per version; then 50 writers each
/// adding their mark with a compare-and-swap retry loop: no mark is lost.
async fn concurrent_if_match_writers(db: TestDatabase) {
    let w = start(&db).await;
    let d = Dev::new(&w, "default", "dave");
    d.put("hot", b"", None).await;
    for round in 1..=3i64 {
        let tasks: Vec<_> = (0..50)
            .map(|n| {
                let d = d.clone();
                tokio::spawn(async move { d.put("hot", format!("{round}/{n}").as_bytes(), Some(round)).await })
            })
            .collect();
        let mut winners = 0;
        for t in tasks {
            let (st, body) = t.await.unwrap();
            match st {
                StatusCode::OK => {
                    assert_eq!(body["version"].as_i64(), Some(round + 1));
                    winners += 1;
                }
                StatusCode::PRECONDITION_FAILED => assert_eq!(body["current_version"].as_i64(), Some(round + 1)),
                other => panic!("unexpected {other}: {body}"),
            }
        }
        assert_eq!(winners, 1, "round {round}");
    }

    d.put("set", b"", None).await;
    let tasks: Vec<_> = (0..50)
        .map(|n| {
            let d = d.clone();
            tokio::spawn(async move {
                for _ in 0..400 {
                    let (_, cur) = d.get("set").await;
                    let version = cur["version"].as_i64().unwrap();
                    let mut marks = String::from_utf8(data_of(&cur)).unwrap();
                    marks.push_str(&format!("[{n}]"));
                    match d.put("set", marks.as_bytes(), Some(version)).await.0 {
                        StatusCode::OK => return true,
                        StatusCode::PRECONDITION_FAILED => tokio::time::sleep(Duration::from_millis(n % 7)).await,
                        other => panic!("unexpected {other}"),
                    }
                }
                false
            })
        })
        .collect();
    for t in tasks {
        assert!(t.await.unwrap(), "a writer never got its turn");
    }
    let (_, cur) = d.get("set").await;
    let marks = String::from_utf8(data_of(&cur)).unwrap();
    for n in 0..50 {
        assert_eq!(
            marks.matches(&format!("[{n}]")).count(),
            1,
            "mark {n} lost or doubled: {marks}"
        );
    }
    assert_eq!(cur["version"].as_i64(), Some(51), "one version per successful write");
}

walletd_testkit::on_both_databases!(
    sync_between_devices,
    two_devices_writing_and_syncing_converge,
    concurrent_if_match_writers
);
