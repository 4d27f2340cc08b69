use super::*;
use zeroize::Zeroizing;

fn opts() -> StoreOptions {
    StoreOptions {
        kdf: KdfParams {
            m_cost_kib: 256,
            t_cost: 1,
            p_cost: 1,
        },
        ..StoreOptions::default()
    }
}

fn pass(p: &str) -> KeySource {
    KeySource::passphrase(p)
}

fn record(id: &str, key_id: &str) -> CredentialRecord {
    CredentialRecord {
        id: id.into(),
        format: "dc+sd-jwt".into(),
        credential: format!("jwt-of-{id}~"),
        key_id: key_id.into(),
        issuer: Some("https://issuer.example".into()),
        configuration_id: Some("pid".into()),
        vct: Some("urn:pid".into()),
        type_metadata: Some(serde_json::json!({"vct": "urn:pid", "name": "PID"})),
        issued_at: 1,
        updated_at: 1,
    }
}

#[test]
fn a_wallet_round_trips_with_several_keys_credentials_and_history() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = Store::create(dir.path(), &pass("pw"), opts()).unwrap();
    assert_eq!(s.data.keys.len(), 1);
    let k2 = s.data.add_key();
    s.data.credentials.push(record("c1", &k2));
    s.data.record(
        PresentationRecord {
            at: 5,
            verifier: Some("x509_hash:v".into()),
            disclosed: vec![DisclosedRecord {
                credential_id: "c1".into(),
                claims: vec!["given_name".into()],
            }],
            outcome: "presented".into(),
        },
        10,
    );
    s.save().unwrap();
    drop(s);
    let again = Store::open(dir.path(), &pass("pw"), opts()).unwrap();
    assert_eq!(again.data.keys.len(), 2);
    assert!(again.data.key(&k2).unwrap().key().is_some());
    assert_eq!(again.data.credential("c1").unwrap(), &record("c1", &k2));
    assert_eq!(again.data.history.len(), 1);
    assert!(!dir.path().join(TMP_FILE).exists(), "no temporary file is left behind");
    // The file holds no plaintext.
    let bytes = fs::read(dir.path().join(STORE_FILE)).unwrap();
    assert!(!bytes.windows(6).any(|w| w == b"jwt-of"));
    assert!(matches!(
        Store::create(dir.path(), &pass("pw"), opts()),
        Err(StoreError::AlreadyExists(_))
    ));
}

#[test]
fn a_wrong_passphrase_is_a_clear_error_and_leaves_the_file_alone() {
    let dir = tempfile::tempdir().unwrap();
    Store::create(dir.path(), &pass("right"), opts()).unwrap();
    let before = fs::read(dir.path().join(STORE_FILE)).unwrap();
    let err = Store::open(dir.path(), &pass("wrong"), opts()).unwrap_err();
    assert!(matches!(err, StoreError::WrongKey));
    assert_eq!(err.to_string(), "wrong passphrase (or key)");
    assert_eq!(fs::read(dir.path().join(STORE_FILE)).unwrap(), before);
    Store::open(dir.path(), &pass("right"), opts()).unwrap();
}

#[test]
fn truncated_and_tampered_files_are_refused_and_left_as_they_are() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = Store::create(dir.path(), &pass("pw"), opts()).unwrap();
    s.data.credentials.push(record("c1", "k"));
    s.save().unwrap();
    drop(s);
    let path = dir.path().join(STORE_FILE);
    let good = fs::read(&path).unwrap();

    fs::write(&path, &good[..good.len() - 10]).unwrap();
    let err = Store::open(dir.path(), &pass("pw"), opts()).unwrap_err();
    assert!(matches!(err, StoreError::Truncated), "{err}");
    assert!(err.to_string().contains("truncated"));
    assert_eq!(
        fs::read(&path).unwrap().len(),
        good.len() - 10,
        "the damaged file is not rewritten"
    );

    let mut bad = good.clone();
    let mid = seal::HEADER_LEN + 3;
    bad[mid] ^= 0x40;
    fs::write(&path, &bad).unwrap();
    let err = Store::open(dir.path(), &pass("pw"), opts()).unwrap_err();
    assert!(matches!(err, StoreError::Corrupted(_)), "{err}");
    assert!(err.to_string().contains("tampered"));
    assert_eq!(fs::read(&path).unwrap(), bad);

    fs::write(&path, b"not a wallet at all, just text").unwrap();
    assert!(matches!(
        Store::open(dir.path(), &pass("pw"), opts()),
        Err(StoreError::NotAWallet)
    ));
    fs::write(&path, b"").unwrap();
    assert!(matches!(
        Store::open(dir.path(), &pass("pw"), opts()),
        Err(StoreError::Truncated)
    ));

    fs::write(&path, &good).unwrap();
    assert_eq!(
        Store::open(dir.path(), &pass("pw"), opts())
            .unwrap()
            .data
            .credentials
            .len(),
        1
    );
}

#[test]
fn a_platform_key_opens_what_it_sealed_and_nothing_else() {
    let dir = tempfile::tempdir().unwrap();
    let key = KeySource::Key(Zeroizing::new([3u8; 32]));
    Store::create(dir.path(), &key, opts()).unwrap();
    Store::open(dir.path(), &key, opts()).unwrap();
    assert!(matches!(
        Store::open(dir.path(), &KeySource::Key(Zeroizing::new([4u8; 32])), opts()),
        Err(StoreError::WrongKey)
    ));
    assert!(matches!(
        Store::open(dir.path(), &pass("x"), opts()),
        Err(StoreError::NeedsKey)
    ));
    assert!(matches!(
        Store::open(tempfile::tempdir().unwrap().path(), &key, opts()),
        Err(StoreError::NotFound(_))
    ));
}

#[test]
fn the_kdf_parameters_come_from_the_header_and_their_limits_are_enforced() {
    let dir = tempfile::tempdir().unwrap();
    Store::create(dir.path(), &pass("pw"), opts()).unwrap();
    // Opening with other defaults still uses the parameters the file was written with.
    let other = StoreOptions {
        kdf: KdfParams::default(),
        ..opts()
    };
    Store::open(dir.path(), &pass("pw"), other).unwrap();
    let strict = StoreOptions {
        kdf_limits: KdfLimits {
            max_m_cost_kib: 128,
            ..KdfLimits::default()
        },
        ..opts()
    };
    let err = Store::open(dir.path(), &pass("pw"), strict).unwrap_err();
    assert!(matches!(err, StoreError::KdfLimits(_)), "{err}");
}

#[test]
fn the_file_size_limit_is_enforced_on_read_and_write() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = Store::create(dir.path(), &pass("pw"), opts()).unwrap();
    let small = StoreOptions {
        max_file_bytes: 400,
        ..opts()
    };
    for i in 0..5 {
        s.data.credentials.push(record(&format!("c{i}"), "k"));
    }
    s.save().unwrap();
    drop(s);
    assert!(matches!(
        Store::open(dir.path(), &pass("pw"), small),
        Err(StoreError::TooLarge(_))
    ));
    let mut s = Store::open(dir.path(), &pass("pw"), opts()).unwrap();
    s.opts.max_file_bytes = 400;
    assert!(matches!(s.save(), Err(StoreError::TooLarge(_))));
}

#[test]
fn a_backup_needs_its_own_passphrase_and_merges_by_id() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = Store::create(dir.path(), &pass("pw"), opts()).unwrap();
    s.data.credentials.push(record("c1", "k"));
    let backup = s.export(&pass("backup-pw")).unwrap();
    assert!(matches!(
        Store::read_backup(&backup, &pass("pw"), &opts()),
        Err(StoreError::WrongKey)
    ));
    let data = Store::read_backup(&backup, &pass("backup-pw"), &opts()).unwrap();
    let other = tempfile::tempdir().unwrap();
    let mut t = Store::create(other.path(), &pass("pw2"), opts()).unwrap();
    assert_eq!(t.merge(data.clone()), (1, 1));
    assert_eq!(t.merge(data), (0, 0), "merging twice adds nothing");
}

#[test]
fn one_writer_at_a_time_readers_share_and_a_dropped_store_lets_go() {
    let dir = tempfile::tempdir().unwrap();
    let writer = Store::create(dir.path(), &pass("pw"), opts()).unwrap();
    // A second writer and a reader are refused while the first is open, before any key derivation.
    for err in [
        Store::open(dir.path(), &pass("pw"), opts()).unwrap_err(),
        Store::open_read_only(dir.path(), &pass("wrong"), opts()).unwrap_err(),
    ] {
        assert!(matches!(err, StoreError::Locked(_)), "{err}");
        assert!(err.to_string().contains("in use by another process"), "{err}");
    }
    assert!(matches!(
        Store::create(dir.path(), &pass("pw"), opts()),
        Err(StoreError::AlreadyExists(_))
    ));
    drop(writer);

    // Readers share; a writer waits for them; a reader cannot save.
    let r1 = Store::open_read_only(dir.path(), &pass("pw"), opts()).unwrap();
    let r2 = Store::open_read_only(dir.path(), &pass("pw"), opts()).unwrap();
    assert!(matches!(r1.save(), Err(StoreError::ReadOnly)));
    assert!(matches!(
        Store::open(dir.path(), &pass("pw"), opts()),
        Err(StoreError::Locked(_))
    ));
    drop((r1, r2));

    // With `lock_wait`, an open waits for the holder to let go instead of failing.
    let holder = Store::open(dir.path(), &pass("pw"), opts()).unwrap();
    let waiting = StoreOptions {
        lock_wait: std::time::Duration::from_secs(5),
        ..opts()
    };
    let path = dir.path().to_path_buf();
    let started = std::time::Instant::now();
    let t = std::thread::spawn(move || Store::open(&path, &pass("pw"), waiting).map(|_| ()));
    std::thread::sleep(std::time::Duration::from_millis(300));
    drop(holder);
    t.join().unwrap().unwrap();
    assert!(started.elapsed() >= std::time::Duration::from_millis(300));
    let short = StoreOptions {
        lock_wait: std::time::Duration::from_millis(100),
        ..opts()
    };
    let _holder = Store::open(dir.path(), &pass("pw"), opts()).unwrap();
    assert!(matches!(
        Store::open(dir.path(), &pass("pw"), short),
        Err(StoreError::Locked(_))
    ));
    assert!(dir.path().join(LOCK_FILE).exists());
}

#[test]
fn no_lock_file_is_left_where_there_is_no_wallet() {
    let dir = tempfile::tempdir().unwrap();
    assert!(matches!(
        Store::open(dir.path(), &pass("pw"), opts()),
        Err(StoreError::NotFound(_))
    ));
    assert!(!dir.path().join(LOCK_FILE).exists());
}

#[test]
fn history_is_bounded() {
    let mut d = WalletData::default();
    for i in 0..5 {
        d.record(
            PresentationRecord {
                at: i,
                verifier: None,
                disclosed: vec![],
                outcome: "presented".into(),
            },
            3,
        );
    }
    assert_eq!(d.history.iter().map(|h| h.at).collect::<Vec<_>>(), vec![2, 3, 4]);
}
