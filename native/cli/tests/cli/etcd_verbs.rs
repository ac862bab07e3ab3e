//! The etcd verbs (get, publish, clear, history, rollback, watch) against a real etcd.

use super::*;

#[tokio::test]
async fn get_on_an_absent_key_is_the_empty_set_at_revision_0() {
    let cluster = etcd().await;
    let out = ctl(&on(&cluster, "cli/get-absent", &["get", "--json"]), b"");
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(
        out.stdout.trim(),
        r#"{"ok":true,"errors":[],"directives":[],"revision":0}"#
    );
    let out = ctl(&on(&cluster, "cli/get-absent", &["get"]), b"");
    assert_eq!(out.code, 0, "{out:?}");
    assert!(out.stdout.starts_with("revision 0 "), "{out:?}");
}

#[tokio::test]
async fn publish_stamps_writes_and_get_shows_it() {
    let cluster = etcd().await;
    let key = "cli/publish";
    let mut client = cluster.client().await.expect("client");
    let before = directive_etcd::clock::now_ms();
    let file = sample_path();
    let out = ctl(&on(&cluster, key, &["publish", &file, "--json"]), b"");
    let after = directive_etcd::clock::now_ms();
    assert_eq!(out.code, 0, "{out:?}");
    let revision = json(&out.stdout)["revision"]
        .as_i64()
        .expect("{\"revision\":R}");
    assert_eq!(out.stdout.trim(), format!(r#"{{"revision":{revision}}}"#));
    assert!(out.stderr.contains("published 4 directive(s)"), "{out:?}");

    let resp = client.get(key, None).await.expect("etcd get");
    let kv = resp.kvs().first().expect("the key exists");
    assert_eq!(kv.mod_revision(), revision);
    let stored = json(std::str::from_utf8(kv.value()).expect("UTF-8"));
    let stamp = stored["published_at"]
        .as_u64()
        .expect("published_at stamped");
    assert!(
        (before..=after).contains(&stamp),
        "{before} <= {stamp} <= {after}"
    );

    let got = get_json(&cluster, key);
    assert_eq!(got["revision"], revision);
    assert_eq!(got["ok"], true);
    assert_eq!(
        ids(&got),
        [
            "acme-timing",
            "orders-search-diff",
            "svc-breakglass",
            "bulk-capture"
        ]
    );
    let keys: Vec<&String> = got.as_object().expect("object").keys().collect();
    assert_eq!(keys.len(), 4, "ok, errors, directives, revision: {got}");

    let out = ctl(&on(&cluster, key, &["get"]), b"");
    assert_eq!(out.code, 0, "{out:?}");
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(lines[0], format!("revision {revision}: 4 directive(s)"));
    assert_eq!(lines.len(), 5, "{out:?}");
    assert!(
        lines[1]
            .trim_start()
            .starts_with("acme-timing ShapeTiming tenant=acme sample=250/1000"),
        "{out:?}"
    );
}

#[tokio::test]
async fn publish_in_the_upstream_format_writes_no_stamp_and_a_stamped_publish_then_warns() {
    let cluster = etcd().await;
    let key = "cli/upstream-format";
    let mut client = cluster.client().await.expect("client");
    let file = sample_path();
    let mut args = on(&cluster, key, &["publish", &file, "--format", "upstream"]);
    let out = ctl(&args, b"");
    assert_eq!(out.code, 0, "{out:?}");
    assert!(
        out.stderr
            .contains("in the upstream format (no published_at)"),
        "{out:?}"
    );
    let resp = client.get(key, None).await.expect("etcd get");
    let stored = json(std::str::from_utf8(resp.kvs()[0].value()).expect("UTF-8"));
    assert!(stored.get("published_at").is_none(), "{stored}");
    assert_eq!(stored["directives"].as_array().map(Vec::len), Some(4));

    // Forgetting the format while the key holds an upstream-format value:
    // written (the flag decides), but said.
    args.truncate(2);
    args.extend(on(&cluster, key, &[]));
    let out = ctl(&args, b"");
    assert_eq!(out.code, 0, "{out:?}");
    assert!(
        out.stderr
            .contains("warning: the value cli/upstream-format holds has no published_at"),
        "{out:?}"
    );
    let resp = client.get(key, None).await.expect("etcd get");
    let stored = json(std::str::from_utf8(resp.kvs()[0].value()).expect("UTF-8"));
    assert!(stored["published_at"].is_u64(), "{stored}");

    // The stored (stamped) value, checked before a migration.
    let out = ctl(
        &on(&cluster, key, &["get", "--upstream-compat", "--json"]),
        b"",
    );
    assert_eq!(out.code, 1, "{out:?}");
    let report = json(&out.stdout);
    assert_eq!(report["upstream"]["error"], "unknown_field", "{report}");
    assert_eq!(report["differences"][0]["rule"], "published_at", "{report}");
    let current = mod_revision(&mut client, key).await;
    assert_eq!(report["revision"], current, "{report}");

    // The way back for a stamped value in a mixed fleet: re-publish the
    // current version in the upstream format.
    let rollback = ["rollback", &current.to_string(), "--format", "upstream"].map(String::from);
    let rollback: Vec<&str> = rollback.iter().map(String::as_str).collect();
    let out = ctl(&on(&cluster, key, &rollback), b"");
    assert_eq!(out.code, 0, "{out:?}");
    let out = ctl(&on(&cluster, key, &["get", "--upstream-compat"]), b"");
    assert_eq!(out.code, 0, "both accept the re-published version: {out:?}");
    assert!(
        out.stdout.contains("the upstream (osproxy 1.0) accepts it"),
        "{out:?}"
    );

    // The same document again in the upstream format would restart every
    // TTL on osproxy instances but not on ours: refused, nothing written.
    let current = mod_revision(&mut client, key).await;
    let again = ["rollback", &current.to_string(), "--format", "upstream"].map(String::from);
    let again: Vec<&str> = again.iter().map(String::as_str).collect();
    let out = ctl(&on(&cluster, key, &again), b"");
    assert_eq!(out.code, 1, "{out:?}");
    assert!(
        out.stderr.contains("already holds exactly this document"),
        "{out:?}"
    );
    assert_eq!(mod_revision(&mut client, key).await, current, "not written");

    let out = ctl(
        &on(&cluster, key, &["publish", &file, "--format", "osproxy"]),
        b"",
    );
    assert_eq!(out.code, 2, "{out:?}");
    assert!(
        out.stderr.contains("expected `stamped` or `upstream`"),
        "{out:?}"
    );
}

#[tokio::test]
async fn publish_invalid_exits_1_and_writes_nothing() {
    let cluster = etcd().await;
    let key = "cli/publish-invalid";
    let mut client = cluster.client().await.expect("client");
    let revision = publish_ok(&cluster, key, ONE);

    let out = ctl(&on(&cluster, key, &["publish", "-"]), INVALID);
    assert_eq!(out.code, 1, "{out:?}");
    assert!(
        out.stdout
            .starts_with("<stdin>:1:36: /directives/0/level: unknown_level:"),
        "{out:?}"
    );
    assert!(out.stderr.contains("nothing written"), "{out:?}");

    let out = ctl(&on(&cluster, key, &["publish", "-", "--json"]), INVALID);
    assert_eq!(out.code, 1, "{out:?}");
    let now = directive_etcd::clock::now_ms();
    let report = directive_core::validate(INVALID, now, &directive_core::Limits::default());
    assert_eq!(out.stdout.trim(), report.to_json(), "the shared report");

    assert_eq!(
        mod_revision(&mut client, key).await,
        revision,
        "not written"
    );
    assert_eq!(get_json(&cluster, key)["revision"], revision);

    // Usage and I/O errors are 2.
    let out = ctl(&on(&cluster, key, &["publish", "/no/such/file.json"]), b"");
    assert_eq!(out.code, 2, "{out:?}");
    assert!(out.stderr.contains("/no/such/file.json"), "{out:?}");
    let out = ctl(
        &on(&cluster, key, &["publish", "-", "--expect-revision", "-1"]),
        ONE,
    );
    assert_eq!(out.code, 2, "{out:?}");
    assert_eq!(mod_revision(&mut client, key).await, revision);
}

#[tokio::test]
async fn publish_with_a_stale_expected_revision_exits_3() {
    let cluster = etcd().await;
    let key = "cli/conflict";
    let mut client = cluster.client().await.expect("client");
    let first = publish_ok(&cluster, key, ONE);
    let second = publish_ok(&cluster, key, TWO);
    assert!(second > first);

    let stale = first.to_string();
    let out = ctl(
        &on(
            &cluster,
            key,
            &["publish", "-", "--expect-revision", &stale],
        ),
        ONE,
    );
    assert_eq!(out.code, 3, "{out:?}");
    assert!(out.stdout.is_empty(), "{out:?}");
    assert!(
        out.stderr.contains(&format!("at revision {second}")),
        "{out:?}"
    );
    assert!(
        out.stderr
            .contains(&format!("this write expected the key at revision {first}")),
        "{out:?}"
    );
    let out = ctl(
        &on(
            &cluster,
            key,
            &["publish", "-", "--expect-revision", "0", "--json"],
        ),
        ONE,
    );
    assert_eq!(out.code, 3, "must not exist: {out:?}");
    assert_eq!(
        json(&out.stdout),
        serde_json::json!({"error": "conflict", "current_revision": second})
    );
    assert_eq!(mod_revision(&mut client, key).await, second, "not written");

    let current = second.to_string();
    let out = ctl(
        &on(
            &cluster,
            key,
            &["publish", "-", "--expect-revision", &current],
        ),
        ONE,
    );
    assert_eq!(out.code, 0, "{out:?}");
    assert!(out.stdout.trim().parse::<i64>().expect("revision") > second);
}

#[tokio::test]
async fn clear_deletes_with_compare_and_swap() {
    let cluster = etcd().await;
    let key = "cli/clear";
    let mut client = cluster.client().await.expect("client");
    let first = publish_ok(&cluster, key, ONE);
    let second = publish_ok(&cluster, key, TWO);

    let stale = first.to_string();
    let out = ctl(
        &on(&cluster, key, &["clear", "--expect-revision", &stale]),
        b"",
    );
    assert_eq!(out.code, 3, "{out:?}");
    assert_eq!(mod_revision(&mut client, key).await, second, "not deleted");

    let current = second.to_string();
    let out = ctl(
        &on(
            &cluster,
            key,
            &["clear", "--expect-revision", &current, "--json"],
        ),
        b"",
    );
    assert_eq!(out.code, 0, "{out:?}");
    assert!(json(&out.stdout)["revision"].as_i64().expect("revision") > second);
    assert_eq!(mod_revision(&mut client, key).await, 0, "deleted");
    assert_eq!(
        get_json(&cluster, key),
        serde_json::json!({"ok": true, "errors": [], "directives": [], "revision": 0})
    );
    // Clearing an absent key is a no-op success.
    let out = ctl(&on(&cluster, key, &["clear"]), b"");
    assert_eq!(out.code, 0, "{out:?}");
}

#[tokio::test]
async fn history_lists_versions_newest_first() {
    let cluster = etcd().await;
    let key = "cli/history";
    let mut client = cluster.client().await.expect("client");
    let one = publish_ok(&cluster, key, ONE);
    let two = publish_ok(&cluster, key, TWO);
    // Written around the publisher: an invalid version.
    let bad = client
        .put(key, INVALID, None)
        .await
        .expect("etcd put")
        .header()
        .expect("header")
        .revision();

    let out = ctl(&on(&cluster, key, &["history", "--json"]), b"");
    assert_eq!(out.code, 0, "{out:?}");
    let entries = json(&out.stdout);
    let entries = entries.as_array().expect("array");
    assert_eq!(entries.len(), 3, "{entries:?}");
    assert_eq!(
        entries[0],
        serde_json::json!({"revision": bad, "kind": "put", "published_at": null, "directives": null})
    );
    assert_eq!(entries[1]["revision"], two);
    assert_eq!(entries[1]["directives"], 2);
    assert_eq!(entries[2]["revision"], one);
    assert_eq!(entries[2]["directives"], 1);
    assert!(entries[2]["published_at"].as_u64().is_some());

    let out = ctl(&on(&cluster, key, &["history", "--limit", "2"]), b"");
    assert_eq!(out.code, 0, "{out:?}");
    let lines: Vec<Vec<&str>> = out
        .stdout
        .lines()
        .map(|l| l.split('\t').collect())
        .collect();
    assert_eq!(lines.len(), 3, "{out:?}");
    assert_eq!(lines[0], ["REVISION", "PUBLISHED_AT", "CONTENT", "BY"]);
    assert_eq!(lines[1], [bad.to_string().as_str(), "-", "invalid", "-"]);
    assert_eq!(lines[2][0], two.to_string());
    assert_eq!(lines[2][2], "2 directive(s)");
    assert!(lines[2][3].ends_with("(cli, publish)"), "{out:?}");
    let stamp = lines[2][1];
    assert!(
        stamp.len() == 24 && stamp.ends_with('Z') && stamp.as_bytes()[10] == b'T',
        "ISO-8601 UTC: {stamp}"
    );
}

#[tokio::test]
async fn history_lists_deletes_and_the_versions_before_them() {
    let cluster = etcd().await;
    let key = "cli/history-deletes";
    let mut client = cluster.client().await.expect("client");
    let r1 = publish_ok(&cluster, key, ONE);
    let r2 = publish_ok(&cluster, key, TWO);
    // Hiding r2 by deleting the key and publishing again does not work.
    let d1 = client
        .delete(key, None)
        .await
        .expect("etcd delete")
        .header()
        .expect("header")
        .revision();
    let r3 = publish_ok(&cluster, key, ONE);
    let history = |extra: &[&str]| {
        let mut args = vec!["history", "--json"];
        args.extend_from_slice(extra);
        let out = ctl(&on(&cluster, key, &args), b"");
        assert_eq!(out.code, 0, "{out:?}");
        json(&out.stdout)
            .as_array()
            .expect("array")
            .iter()
            .map(|e| {
                let kind = e["kind"].as_str().expect("kind").to_owned();
                (e["revision"].as_i64().expect("revision"), kind)
            })
            .collect::<Vec<_>>()
    };
    let put = |r: i64| (r, "put".to_owned());
    let del = |r: i64| (r, "delete".to_owned());
    assert_eq!(history(&[]), [put(r3), del(d1), put(r2), put(r1)]);
    assert_eq!(history(&["--limit", "2"]), [put(r3), del(d1)]);

    // A cleared key lists its delete first, and everything before it.
    let out = ctl(&on(&cluster, key, &["clear"]), b"");
    assert_eq!(out.code, 0, "{out:?}");
    let d2 = mod_revision_of_delete(&mut client, key).await;
    assert_eq!(history(&[]), [del(d2), put(r3), del(d1), put(r2), put(r1)]);
    let out = ctl(&on(&cluster, key, &["history"]), b"");
    let first = out.stdout.lines().nth(1).expect("a line").to_owned();
    assert!(first.starts_with(&format!("{d2}\t-\tdeleted\t")), "{first}");
    assert!(first.ends_with("(cli, clear)"), "{first}");

    // After a compaction the listing starts at the compaction point.
    cluster.compact(r2).await.expect("compact");
    assert_eq!(history(&[]), [del(d2), put(r3), del(d1), put(r2)]);
    // A deleted version cannot be rolled back to; an earlier write can.
    let out = ctl(&on(&cluster, key, &["rollback", &d1.to_string()]), b"");
    assert_ne!(out.code, 0, "{out:?}");
}

/// Every write through the CLI records who, why, from where and what, in
/// the same transaction as the change: history shows it for put, delete
/// and put again; a write refused by its compare records nothing.
#[tokio::test]
async fn writes_are_attributed_in_the_same_transaction() {
    let cluster = etcd().await;
    let key = "cli/attributed";
    let mut client = cluster.client().await.expect("client");
    let write = |args: &[&str], input: &[u8]| {
        let out = ctl(&on(&cluster, key, args), input);
        assert_eq!(out.code, 0, "{args:?}: {out:?}");
        out.stdout.trim().parse::<i64>().unwrap_or(0)
    };
    let r1 = write(
        &[
            "publish",
            "-",
            "--as",
            "alice",
            "-m",
            "trace acme for INC-7",
        ],
        ONE,
    );
    write(&["clear", "--as", "carol"], b"");
    let d1 = mod_revision_of_delete(&mut client, key).await;
    let r3 = write(
        &["rollback", &r1.to_string(), "--as", "bob", "-m", "restore"],
        b"",
    );
    let record_key = format!("{key}/attribution");
    let record_at = |resp: directive_tests::etcd_client::GetResponse| {
        resp.kvs().first().map(|kv| kv.mod_revision())
    };
    let before = record_at(client.get(record_key.as_str(), None).await.expect("get"));
    assert_eq!(before, Some(r3), "the record shares the change's revision");
    // A compare that fails writes neither the change nor its record.
    let out = ctl(
        &on(
            &cluster,
            key,
            &[
                "publish",
                "-",
                "--expect-revision",
                &r1.to_string(),
                "--as",
                "mallory",
            ],
        ),
        TWO,
    );
    assert_eq!(out.code, 3, "{out:?}");
    let after = record_at(client.get(record_key.as_str(), None).await.expect("get"));
    assert_eq!(after, before, "no record without its change");

    let out = ctl(&on(&cluster, key, &["history", "--json"]), b"");
    assert_eq!(out.code, 0, "{out:?}");
    let entries = json(&out.stdout);
    let by = |i: usize| entries[i]["attribution"].clone();
    assert_eq!(entries[0]["revision"], r3);
    assert_eq!(by(0)["author"], "bob");
    assert_eq!(by(0)["op"], "rollback");
    assert_eq!(by(0)["restored_revision"], r1);
    assert_eq!(by(0)["message"], "restore");
    assert_eq!(by(0)["source"], "cli");
    assert_eq!(
        (entries[1]["revision"].as_i64(), entries[1]["kind"].as_str()),
        (Some(d1), Some("delete"))
    );
    assert_eq!(
        (by(1)["author"].as_str(), by(1)["op"].as_str()),
        (Some("carol"), Some("clear"))
    );
    assert_eq!(by(1).get("message"), None);
    assert_eq!(entries[2]["revision"], r1);
    assert_eq!(
        (by(2)["author"].as_str(), by(2)["message"].as_str()),
        (Some("alice"), Some("trace acme for INC-7"))
    );
    // A write around the publisher has no record; an old record is never
    // attributed to a newer change.
    let raw = client
        .put(key, ONE, None)
        .await
        .expect("put")
        .header()
        .expect("header")
        .revision();
    let out = ctl(
        &on(&cluster, key, &["history", "--json", "--limit", "1"]),
        b"",
    );
    let entries = json(&out.stdout);
    assert_eq!(entries[0]["revision"], raw);
    assert_eq!(entries[0].get("attribution"), None, "{entries}");
    // Bad input says what and where.
    let out = ctl(&on(&cluster, key, &["publish", "-", "--as", ""]), ONE);
    assert_eq!(out.code, 2, "{out:?}");
    assert!(out.stderr.contains("--as"), "{out:?}");
}

/// The revision of the key's latest delete: the store's revision right
/// after `clear` (nothing else writes to this cluster in the test).
async fn mod_revision_of_delete(client: &mut Client, key: &str) -> i64 {
    let resp = client.get(key, None).await.expect("get");
    assert!(resp.kvs().is_empty(), "cleared");
    resp.header().expect("header").revision()
}

#[tokio::test]
async fn rollback_restores_an_earlier_set() {
    let cluster = etcd().await;
    let key = "cli/rollback";
    let mut client = cluster.client().await.expect("client");
    let one = publish_ok(&cluster, key, ONE);
    let two = publish_ok(&cluster, key, TWO);
    assert_eq!(ids(&get_json(&cluster, key)), ["two-a", "two-b"]);

    let target = one.to_string();
    let stale = one.to_string();
    let out = ctl(
        &on(
            &cluster,
            key,
            &["rollback", &target, "--expect-revision", &stale],
        ),
        b"",
    );
    assert_eq!(out.code, 3, "{out:?}");
    assert_eq!(mod_revision(&mut client, key).await, two, "not written");

    let current = two.to_string();
    let out = ctl(
        &on(
            &cluster,
            key,
            &["rollback", &target, "--expect-revision", &current],
        ),
        b"",
    );
    assert_eq!(out.code, 0, "{out:?}");
    let restored: i64 = out.stdout.trim().parse().expect("revision");
    assert!(restored > two);
    let got = get_json(&cluster, key);
    assert_eq!(got["revision"], restored);
    assert_eq!(ids(&got), ["one"]);

    // A revision with no version of this key (another key's write, or the
    // future): exit 1 with the HTTP API's answer, nothing written.
    let elsewhere = publish_ok(&cluster, "cli/rollback-other", ONE).to_string();
    for revision in [elsewhere.as_str(), "999999999"] {
        let out = ctl(&on(&cluster, key, &["rollback", revision]), b"");
        assert_eq!(out.code, 1, "{out:?}");
        assert!(
            out.stderr
                .contains(&format!("revision {revision} not found")),
            "{out:?}"
        );
    }
    assert_eq!(mod_revision(&mut client, key).await, restored);
}

#[tokio::test]
async fn watch_json_prints_the_state_then_each_event() {
    let cluster = etcd().await;
    let key = "cli/watch";
    let mut client = cluster.client().await.expect("client");
    let mut child = Reaped(
        command(&on(&cluster, key, &["watch", "--json"]))
            .stdin(Stdio::null())
            .spawn()
            .expect("watch starts"),
    );
    let stderr = read_all(child.0.stderr.take().expect("stderr is piped"));
    let (tx, lines) = mpsc::channel();
    let stdout = child.0.stdout.take().expect("stdout is piped");
    thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let deadline = Instant::now() + DEADLINE;
    let next = || -> Value {
        let left = deadline.saturating_duration_since(Instant::now());
        let line = lines
            .recv_timeout(left)
            .expect("a line from watch before the deadline")
            .expect("stdout is UTF-8");
        json(&line)
    };

    let initial = next();
    assert_eq!(initial["event"], "applied", "{initial}");
    assert_eq!(initial["directives"], 0, "{initial}");
    let status = next();
    assert_eq!(status["event"], "status", "{status}");
    assert_eq!(status["state"], "live", "{status}");

    // A publish made with etcd-client directly, not through directivectl.
    let put = client
        .put(key, ONE, None)
        .await
        .expect("etcd put")
        .header()
        .expect("header")
        .revision();
    assert_eq!(
        next(),
        serde_json::json!({
            "event": "applied", "revision": put, "directives": 1,
            "ids": ["one"], "recovered": false
        })
    );
    let bad = client
        .put(key, INVALID, None)
        .await
        .expect("etcd put")
        .header()
        .expect("header")
        .revision();
    assert_eq!(
        next(),
        serde_json::json!({
            "event": "rejected", "revision": bad,
            "errors": [{"code": "unknown_level", "path": "/directives/0/level"}]
        })
    );

    // SIGTERM stops it cleanly.
    let pid = child.0.id().to_string();
    let killed = Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .expect("run kill");
    assert!(killed.success());
    let start = Instant::now();
    let status = loop {
        if let Some(status) = child.0.try_wait().expect("wait for watch") {
            break status;
        }
        assert!(start.elapsed() < DEADLINE, "watch ignored SIGTERM");
        thread::sleep(Duration::from_millis(5));
    };
    let stderr = stderr.join().expect("stderr reader");
    assert_eq!(status.code(), Some(0), "{stderr}");
}

#[tokio::test]
async fn unreachable_etcd_exits_2_with_the_cause_within_the_connect_timeout() {
    let port = directive_tests::free_port().expect("a free port");
    let endpoint = format!("http://127.0.0.1:{port}");
    let timeout = Duration::from_millis(1500);
    let ms = timeout.as_millis().to_string();
    for verb in [
        &["get"][..],
        &["publish", "-"],
        &["clear"],
        &["history"],
        &["rollback", "5"],
        &["watch", "--json"],
    ] {
        let mut args: Vec<&str> = verb.to_vec();
        args.extend(["--endpoints", &endpoint, "--connect-timeout-ms", &ms]);
        let start = Instant::now();
        let out = ctl(&args, ONE);
        let took = start.elapsed();
        assert_eq!(out.code, 2, "{verb:?}: {out:?}");
        assert!(out.stdout.is_empty(), "{verb:?}: {out:?}");
        assert!(
            out.stderr.contains("etcd connect") && out.stderr.contains(&endpoint),
            "{verb:?}: the cause and the endpoint: {out:?}"
        );
        assert!(
            took < timeout + Duration::from_secs(3),
            "{verb:?} took {took:?}"
        );
    }
    // Invalid input is refused before connecting: 1 even with etcd down.
    let out = ctl(
        &[
            "publish",
            "-",
            "--endpoints",
            &endpoint,
            "--connect-timeout-ms",
            &ms,
        ],
        INVALID,
    );
    assert_eq!(out.code, 1, "{out:?}");
}

// Multi-threaded: `ctl` blocks its thread while the in-process stores must
// keep their leases alive on the other.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fleet_lists_the_instances_as_they_report_themselves() {
    use directive_etcd::{EtcdDirectiveStore, StoreOptions};
    let cluster = etcd().await;
    let key = "cli/fleet";
    let r1 = publish_ok(&cluster, key, ONE);
    let store = |id: &str, zone: &str| {
        StoreOptions::new(cluster.endpoints())
            .with_key(key)
            .with_instance(id, [("zone".to_owned(), zone.to_owned())])
            .with_report_timing(Duration::from_millis(50), Duration::from_secs(5))
    };
    let a = EtcdDirectiveStore::connect(store("a", "z1"))
        .await
        .expect("a connects");
    let b = EtcdDirectiveStore::connect(store("b", "z2"))
        .await
        .expect("b connects");
    // Bounded poll until both report the publish.
    let deadline = Instant::now() + Duration::from_secs(15);
    let out = loop {
        let out = ctl(&on(&cluster, key, &["fleet"]), b"");
        assert_eq!(out.code, 0, "{out:?}");
        if out.stdout.contains(&format!("2 at r{r1}")) {
            break out;
        }
        assert!(Instant::now() < deadline, "{out:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert!(
        lines[0].starts_with(&format!("a\tlive\tr{r1}\tapplied\t")) && lines[0].contains("zone=z1"),
        "{out:?}"
    );
    assert!(
        lines[1].starts_with(&format!("b\tlive\tr{r1}\tapplied\t")),
        "{out:?}"
    );
    assert_eq!(
        lines[2],
        format!("2 instance(s), 2 at r{r1} (the key's latest write)")
    );

    let out = ctl(
        &on(&cluster, key, &["fleet", "--json", "--selector", "zone=z2"]),
        b"",
    );
    let fleet = json(&out.stdout);
    assert_eq!(fleet["key_revision"], r1);
    assert_eq!(fleet["rollout"]["revision"], r1, "{fleet}");
    assert_eq!(fleet["rollout"]["applied"], 1, "{fleet}");
    let instances = fleet["instances"].as_array().expect("instances");
    assert_eq!(instances.len(), 1, "{fleet}");
    assert_eq!(instances[0]["id"], "b");
    assert_eq!(instances[0]["applied_revision"], r1);

    // `--wait`: returns once both applied the write.
    let out = ctl(&on(&cluster, key, &["publish", "-", "--wait", "15s"]), TWO);
    assert_eq!(out.code, 0, "{out:?}");
    let r2: i64 = out.stdout.trim().parse().expect("revision");
    assert!(
        out.stderr.contains(&format!("2/2 applied r{r2}")),
        "{out:?}"
    );
    // A straggler (a report that never moves) makes it time out, named.
    let stuck = directive_core::Status {
        state: directive_core::State::Live,
        applied_revision: r2,
        observed_revision: r2,
        ..directive_core::Status::default()
    };
    let ghost = directive_core::instance::InstanceReport::from_status(
        "ghost",
        &std::collections::BTreeMap::new(),
        "0.0.0",
        &stuck,
        0,
    );
    let mut client = cluster.client().await.expect("client");
    client
        .put(format!("{key}/instances/ghost"), ghost.encode(), None)
        .await
        .expect("put");
    let out = ctl(&on(&cluster, key, &["publish", "-", "--wait", "1s"]), ONE);
    assert_eq!(out.code, 4, "{out:?}");
    assert!(out.stderr.contains("2 of 3 instance(s) applied"), "{out:?}");
    assert!(
        out.stderr.contains(&format!("  ghost: live at r{r2}")),
        "{out:?}"
    );
    let out = ctl(
        &on(
            &cluster,
            key,
            &["publish", "-", "--wait", "5s", "--min-ready", "60%"],
        ),
        TWO,
    );
    assert_eq!(out.code, 0, "2 of 3 is enough for 60%: {out:?}");
    client
        .delete(format!("{key}/instances/ghost"), None)
        .await
        .expect("delete");

    // A hand-written garbage report is listed as invalid; nothing crashes.
    client
        .put(format!("{key}/instances/junk"), "{\"id\":1}", None)
        .await
        .expect("put");
    let out = ctl(&on(&cluster, key, &["fleet"]), b"");
    assert_eq!(out.code, 0, "{out:?}");
    assert!(
        out.stdout
            .contains("junk\tinvalid report: report does not match the schema"),
        "{out:?}"
    );
    assert!(out.stdout.contains(", 1 invalid report(s)"), "{out:?}");
    let out = ctl(&on(&cluster, key, &["fleet", "--selector", "zone"]), b"");
    assert_eq!(out.code, 2, "{out:?}");

    // A key nobody watches says so (a typo in --key no longer looks fine).
    let out = ctl(&on(&cluster, "cli/fleet-typo", &["fleet"]), b"");
    assert_eq!(out.code, 0, "{out:?}");
    assert!(
        out.stderr.contains("no instance reports on cli/fleet-typo"),
        "{out:?}"
    );
    for verb in [&["get"][..], &["publish", "-"][..]] {
        let out = ctl(&on(&cluster, "cli/fleet-typo", verb), ONE);
        assert_eq!(out.code, 0, "{out:?}");
        assert!(
            out.stderr
                .contains("warning: no instance reports on cli/fleet-typo"),
            "{verb:?}: {out:?}"
        );
    }
    let out = ctl(&on(&cluster, key, &["get"]), b"");
    assert!(!out.stderr.contains("warning"), "{out:?}");

    // A clear rolls out too, and a later listing still knows the delete's
    // revision (from its attribution record), so nobody shows as current
    // at "r0".
    let out = ctl(&on(&cluster, key, &["clear", "--wait", "15s"]), b"");
    assert_eq!(out.code, 0, "{out:?}");
    let out = ctl(&on(&cluster, key, &["fleet", "--json"]), b"");
    let fleet = json(&out.stdout);
    let deleted_at = fleet["key_revision"].as_i64().expect("key revision");
    assert!(deleted_at > 0, "{fleet}");
    assert_eq!(fleet["rollout"]["revision"], deleted_at, "{fleet}");
    a.shutdown().await;
    b.shutdown().await;
}

/// `id`'s entry in a `fleet --json` listing.
fn listed<'a>(fleet: &'a Value, id: &str) -> Option<&'a Value> {
    fleet["instances"]
        .as_array()?
        .iter()
        .find(|i| i["id"] == id)
}

/// The revision `id` applies when its report says it is live.
fn live_at(fleet: &Value, id: &str) -> Option<i64> {
    let instance = listed(fleet, id)?;
    if instance["state"] != "live" {
        return None;
    }
    instance["applied_revision"].as_i64()
}

/// Runs `fleet --json` on `key` until `done` holds for its listing
/// (bounded by `within`), and returns that listing.
async fn fleet_until(
    cluster: &EtcdCluster,
    key: &str,
    what: &str,
    within: Duration,
    done: impl Fn(&Value) -> bool,
) -> Value {
    let deadline = Instant::now() + within;
    loop {
        let out = ctl(&on(cluster, key, &["fleet", "--json"]), b"");
        assert_eq!(out.code, 0, "{out:?}");
        let fleet = json(&out.stdout);
        if done(&fleet) {
            return fleet;
        }
        assert!(
            Instant::now() < deadline,
            "{what}: not within {within:?}: {fleet}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A store reporting as instance `id` on `key` through `endpoints`:
/// a report at most every 50 ms, listed 3 s after it dies.
fn reporting(endpoints: Vec<String>, key: &str, id: &str) -> directive_etcd::StoreOptions {
    directive_etcd::StoreOptions::new(endpoints)
        .with_key(key)
        .with_instance(id, [])
        .with_report_timing(Duration::from_millis(50), Duration::from_secs(3))
}

// Multi-threaded: `ctl` blocks its thread while the in-process stores and
// the fault proxy must keep running on the other.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_blackholed_instance_makes_wait_time_out_and_catches_up_after_heal() {
    use directive_etcd::{DirectiveStore as _, EtcdDirectiveStore};
    let cluster = etcd().await;
    let key = "cli/fleet-blackhole";
    let r1 = publish_ok(&cluster, key, ONE);
    let proxy = directive_tests::FaultProxy::for_endpoint(&cluster.endpoints()[0])
        .await
        .expect("fault proxy");
    let a = EtcdDirectiveStore::connect(reporting(cluster.endpoints(), key, "a"))
        .await
        .expect("a connects");
    let b = EtcdDirectiveStore::connect(reporting(cluster.endpoints(), key, "b"))
        .await
        .expect("b connects");
    let c = EtcdDirectiveStore::connect(reporting(vec![proxy.endpoint()], key, "c"))
        .await
        .expect("c connects through the proxy");
    fleet_until(
        &cluster,
        key,
        "a, b and c live at r1",
        Duration::from_secs(15),
        |f| ["a", "b", "c"].iter().all(|id| live_at(f, id) == Some(r1)),
    )
    .await;

    // c is cut off silently: it can neither apply the write nor report.
    // Its lease has 2 to 3 s left, so the wait starts with c live (a
    // target), and ends with c either still listed at r1 or expired.
    proxy.blackhole();
    let out = ctl(&on(&cluster, key, &["publish", "-", "--wait", "2s"]), TWO);
    assert_eq!(out.code, 4, "{out:?}");
    let r2: i64 = out
        .stdout
        .trim()
        .parse()
        .unwrap_or_else(|e| panic!("the revision, printed before waiting ({e}): {out:?}"));
    assert!(
        out.stderr
            .contains(&format!("2 of 3 instance(s) applied r{r2}; waiting on:")),
        "{out:?}"
    );
    let waiting_on: Vec<&str> = out
        .stderr
        .lines()
        .filter_map(|l| l.strip_prefix("  "))
        .collect();
    let still_listed = format!("c: live at r{r1}");
    let only_c = match waiting_on.as_slice() {
        [only] => *only == still_listed || *only == "c: no longer reporting",
        _ => false,
    };
    assert!(only_c, "c, and only c, named as the straggler: {out:?}");
    eprintln!("the timed-out wait named {waiting_on:?}");
    // Its lease expires (if it has not yet): c is no longer listed.
    fleet_until(
        &cluster,
        key,
        "c's report expires",
        Duration::from_secs(10),
        |f| listed(f, "c").is_none(),
    )
    .await;

    // Healed: c reads the write, grants a new lease and reports again.
    proxy.pass();
    let healed = Instant::now();
    let fleet = fleet_until(
        &cluster,
        key,
        "c reports live at r2 again",
        Duration::from_secs(30),
        |f| live_at(f, "c").is_some_and(|r| r >= r2),
    )
    .await;
    eprintln!(
        "c live at r{r2} again {:.2} s after the heal",
        healed.elapsed().as_secs_f64()
    );
    assert_eq!(c.load().revision, r2, "c applies what it reports");
    for id in ["a", "b"] {
        assert_eq!(live_at(&fleet, id), Some(r2), "{id}: {fleet}");
    }
    let out = ctl(&on(&cluster, key, &["publish", "-", "--wait", "10s"]), ONE);
    assert_eq!(out.code, 0, "{out:?}");
    let r3: i64 = out.stdout.trim().parse().expect("revision");
    assert!(
        out.stderr.contains(&format!("3/3 applied r{r3}")),
        "{out:?}"
    );
    a.shutdown().await;
    b.shutdown().await;
    c.shutdown().await;
}

// Multi-threaded: reading the child's lines blocks this thread while the
// in-process store must keep its lease alive on the other.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fleet_watch_streams_changes_as_ndjson() {
    use directive_etcd::EtcdDirectiveStore;
    let cluster = etcd().await;
    let key = "cli/fleet-watch";
    let mut client = cluster.client().await.expect("client");
    let mut child = Reaped(
        command(&on(&cluster, key, &["fleet", "--watch", "--json"]))
            .stdin(Stdio::null())
            .spawn()
            .expect("fleet --watch starts"),
    );
    let stderr = read_all(child.0.stderr.take().expect("stderr is piped"));
    let (tx, lines) = mpsc::channel();
    let stdout = child.0.stdout.take().expect("stdout is piped");
    thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let deadline = Instant::now() + DEADLINE;
    let mut previous = Value::Null;
    // The next line (one JSON document per line, each a change), checked
    // against the one before it.
    let mut next = || -> Value {
        let left = deadline.saturating_duration_since(Instant::now());
        let line = lines
            .recv_timeout(left)
            .expect("a line from fleet --watch before the deadline")
            .expect("stdout is UTF-8");
        let fleet = json(&line);
        assert_ne!(fleet, previous, "a line per change, not a repeat");
        assert_eq!(
            fleet["lost"],
            serde_json::json!([]),
            "nothing lost: {fleet}"
        );
        previous = fleet.clone();
        fleet
    };
    let mut until = |what: &str, done: &dyn Fn(&Value) -> bool| -> Value {
        loop {
            let fleet = next();
            if done(&fleet) {
                return fleet;
            }
            eprintln!("{what}: not yet: {fleet}");
        }
    };

    let first = until("the first listing", &|_| true);
    assert_eq!(first["key_revision"], 0, "{first}");
    assert_eq!(first["instances"], serde_json::json!([]), "{first}");

    let store = EtcdDirectiveStore::connect(reporting(cluster.endpoints(), key, "w"))
        .await
        .expect("w connects");
    let live = until("w listed live", &|f| live_at(f, "w").is_some());
    assert_eq!(
        live["instances"].as_array().map(Vec::len),
        Some(1),
        "{live}"
    );
    assert_eq!(live["key_revision"], 0, "the key is absent: {live}");
    assert_eq!(live["rollout"]["applied"], 1, "w has the absence: {live}");

    // A write of the key is a change too, and so is w applying it.
    let put = client
        .put(key, ONE, None)
        .await
        .expect("etcd put")
        .header()
        .expect("header")
        .revision();
    let applied = until("w applies the write", &|f| live_at(f, "w") == Some(put));
    assert_eq!(applied["key_revision"], put, "{applied}");
    assert_eq!(applied["rollout"]["applied"], 1, "{applied}");

    // A clean stop: gone, and not lost (checked on every line by `next`).
    store.shutdown().await;
    let gone = until("w leaves", &|f| listed(f, "w").is_none());
    assert_eq!(gone["instances"], serde_json::json!([]), "{gone}");
    assert_eq!(gone["key_revision"], put, "{gone}");

    // SIGINT stops it cleanly.
    let pid = child.0.id().to_string();
    let signalled = Command::new("kill")
        .args(["-INT", &pid])
        .status()
        .expect("run kill");
    assert!(signalled.success());
    let start = Instant::now();
    let status = loop {
        if let Some(status) = child.0.try_wait().expect("wait for fleet --watch") {
            break status;
        }
        assert!(start.elapsed() < DEADLINE, "fleet --watch ignored SIGINT");
        thread::sleep(Duration::from_millis(5));
    };
    let stderr = stderr.join().expect("stderr reader");
    assert_eq!(status.code(), Some(0), "{stderr}");
}

/// `diff` shows, per directive id, what publishing a document would change
/// against the stored value (exit 0 none, 1 some, 2 error); `publish`
/// prints the same before writing and `--dry-run` stops there.
#[tokio::test]
async fn diff_and_dry_run_show_the_change_before_it_is_made() {
    let cluster = etcd().await;
    let key = "cli/diff";
    let out = ctl(&on(&cluster, key, &["diff", "-"]), ONE);
    assert_eq!(
        out.code, 1,
        "everything is new against an absent key: {out:?}"
    );
    assert!(out.stdout.starts_with("+ one "), "{out:?}");
    let r1 = publish_ok(&cluster, key, ONE);
    let out = ctl(&on(&cluster, key, &["diff", "-"]), ONE);
    assert_eq!(
        (out.code, out.stdout.as_str()),
        (0, "no change (1 directive(s))\n"),
        "{out:?}"
    );

    // Only the TTL moves: a change, with before and after.
    let longer = br#"{"directives":[{"id":"one","level":"Shape","ttl_secs":601}]}"#;
    let out = ctl(&on(&cluster, key, &["diff", "-", "--json"]), longer);
    assert_eq!(out.code, 1, "{out:?}");
    let d = json(&out.stdout);
    assert_eq!(d["stored_revision"], r1);
    assert_eq!(
        d["changed"],
        serde_json::json!([{"id": "one", "fields": [{"field": "ttl_secs", "before": 600, "after": 601}]}])
    );
    assert_eq!(
        (
            d["added"].as_array().map(Vec::len),
            d["removed"].as_array().map(Vec::len)
        ),
        (Some(0), Some(0))
    );

    // --dry-run prints the diff and writes nothing.
    let out = ctl(&on(&cluster, key, &["publish", "-", "--dry-run"]), TWO);
    assert_eq!(out.code, 0, "{out:?}");
    assert!(
        out.stdout.contains("+ two-a ") && out.stdout.contains("- one "),
        "{out:?}"
    );
    assert!(out.stderr.contains("dry run: nothing written"), "{out:?}");
    let out = ctl(&on(&cluster, key, &["get", "--json"]), b"");
    assert_eq!(
        json(&out.stdout)["revision"],
        r1,
        "the dry run wrote nothing"
    );
    // A real publish shows the same diff on stderr before writing.
    let out = ctl(&on(&cluster, key, &["publish", "-"]), TWO);
    assert_eq!(out.code, 0, "{out:?}");
    assert!(
        out.stderr.contains("+ two-b ") && out.stderr.contains("2 added, 1 removed, 0 changed"),
        "{out:?}"
    );

    // history --diff shows what each version changed from the one before.
    let out = ctl(
        &on(&cluster, key, &["history", "--diff", "--limit", "1"]),
        b"",
    );
    assert_eq!(out.code, 0, "{out:?}");
    assert!(
        out.stdout.contains("\n    + two-a ") && out.stdout.contains("\n    - one "),
        "{out:?}"
    );
    let out = ctl(
        &on(
            &cluster,
            key,
            &["history", "--diff", "--json", "--limit", "2"],
        ),
        b"",
    );
    let entries = json(&out.stdout);
    assert_eq!(entries.as_array().map(Vec::len), Some(2), "{entries}");
    assert_eq!(
        entries[0]["diff"]["added"].as_array().map(Vec::len),
        Some(2)
    );
    assert_eq!(entries[0]["diff"]["removed"][0]["id"], "one");
    assert_eq!(
        entries[1]["diff"]["added"][0]["id"], "one",
        "the first version adds everything"
    );

    // An invalid FILE is an error (2), with its errors.
    let out = ctl(&on(&cluster, key, &["diff", "-"]), INVALID);
    assert_eq!(out.code, 2, "{out:?}");
    assert!(!out.stderr.is_empty() || !out.stdout.is_empty(), "{out:?}");
}

#[tokio::test]
async fn get_gives_back_the_document_for_an_edit_and_publish_loop() {
    let cluster = etcd().await;
    let key = "cli/round-trip";
    let first = publish_ok(
        &cluster,
        key,
        &std::fs::read(sample_path()).expect("sample"),
    );
    let out = ctl(&on(&cluster, key, &["get", "-o", "document"]), b"");
    assert_eq!(out.code, 0, "{out:?}");
    assert!(out.stderr.contains(&format!("revision {first}")), "{out:?}");
    let before = ids(&get_json(&cluster, key));
    // Edit (here: nothing) and publish it back from stdin.
    let again = ctl(&on(&cluster, key, &["publish", "-"]), out.stdout.as_bytes());
    assert_eq!(again.code, 0, "{again:?}");
    assert_eq!(ids(&get_json(&cluster, key)), before);
    assert_eq!(
        ctl(&on(&cluster, key, &["get", "-o", "json"]), b"").stdout,
        ctl(&on(&cluster, key, &["get", "--json"]), b"").stdout,
        "-o json is --json"
    );
    // No --endpoints: etcdctl's default, 127.0.0.1:2379.
    let out = ctl(&["get", "--key", key, "--connect-timeout-ms", "1000"], b"");
    // (Unless something happens to serve there, the attempt names it.)
    if out.code != 0 {
        assert!(out.stderr.contains("127.0.0.1:2379"), "{out:?}");
    }
    // Given but empty (an unset variable): an error, not localhost.
    let out = ctl(&["get", "--endpoints", "", "--key", key], b"");
    assert_eq!(out.code, 2, "{out:?}");
    assert!(out.stderr.contains("--endpoints is empty"), "{out:?}");
}
