//! The verbs that need no etcd: the corpus through the CLI, exit codes, `eval`, help.

use super::*;

/// The CLI as a corpus surface: reports must equal the library's exactly.
struct Cli;

impl Surface for Cli {
    fn name(&self) -> &str {
        "cli"
    }

    fn validate(&self, input: &[u8], now_ms: u64, limits: Option<&Value>) -> Option<String> {
        if limits.is_some() {
            return None;
        }
        let now = now_ms.to_string();
        let (code, stdout, _) = run(&["validate", "-", "--json", "--now-ms", &now], input);
        let report: Value = serde_json::from_str(&stdout).ok()?;
        let want_code = if report["ok"] == Value::Bool(true) {
            0
        } else {
            1
        };
        assert_eq!(code, want_code, "exit code must follow the report");
        let native = directive_core::validate(input, now_ms, &directive_core::Limits::default());
        assert_eq!(
            stdout.trim_end(),
            native.to_json(),
            "CLI report must be byte-identical"
        );
        Some(stdout)
    }

    fn evaluate(
        &self,
        set: &str,
        decoded_at_ms: u64,
        now_ms: u64,
        request: &Value,
    ) -> Option<String> {
        if decoded_at_ms != now_ms {
            // The CLI decodes and evaluates at one instant.
            return None;
        }
        let spec = RequestSpec::from_json(request).expect("a corpus request parses");
        let mut args: Vec<String> = vec![
            "eval".into(),
            "-".into(),
            "--json".into(),
            "--now-ms".into(),
            now_ms.to_string(),
            "--index".into(),
            spec.index,
            "--principal".into(),
            spec.principal,
            "--endpoint".into(),
            spec.endpoint,
            "--request-id".into(),
            spec.request_id,
        ];
        if let Some(tenant) = spec.tenant {
            args.push("--tenant".into());
            args.push(tenant);
        }
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let (code, stdout, _) = run(&args, set.as_bytes());
        assert_eq!(code, 0);
        Some(stdout)
    }

    fn upstream_compat(&self, input: &[u8], now_ms: u64, limits: Option<&Value>) -> Option<String> {
        if limits.is_some() {
            return None;
        }
        let now = now_ms.to_string();
        let args = [
            "validate",
            "-",
            "--upstream-compat",
            "--json",
            "--now-ms",
            &now,
        ];
        let (code, stdout, _) = run(&args, input);
        // Output that is not a report fails the case (never skips it).
        if let Ok(report) = serde_json::from_str::<Value>(&stdout) {
            let both = report["upstream"]["accepts"] == Value::Bool(true)
                && report["ours"]["ok"] == Value::Bool(true);
            assert_eq!(
                code,
                if both { 0 } else { 1 },
                "exit 0 only when both accept"
            );
        }
        Some(stdout)
    }
}

#[test]
fn corpus_through_the_cli_matches_the_library() {
    let corpus = load().expect("corpus parses");
    let summary = run_all(&corpus, &Cli);
    println!("{summary}");
    assert!(summary.failures.is_empty(), "{summary}");
    assert!(
        summary.passed >= 100,
        "too few cases ran through the CLI: {summary}"
    );
}

#[test]
fn exit_codes() {
    let good = br#"{"directives":[{"id":"a","level":"Shape","ttl_secs":60}]}"#;
    assert_eq!(run(&["validate", "-"], good).0, 0);
    let (code, stdout, stderr) = run(&["validate", "-"], br#"{"directives":[{"id":"a"}]}"#);
    assert_eq!(code, 1);
    assert!(
        stdout.contains("<stdin>:1:16: /directives/0/level: missing_level:"),
        "{stdout}"
    );
    assert!(stderr.contains("invalid, 2 error(s)"), "{stderr}");
    assert_eq!(run(&["validate", "/no/such/file"], b"").0, 2);
    assert_eq!(run(&["validate", "--no-such-flag"], b"").0, 2);
    assert_eq!(
        run(
            &[
                "eval",
                "-",
                "--index",
                "i",
                "--principal",
                "p",
                "--endpoint",
                "Nope",
                "--request-id",
                "r"
            ],
            good
        )
        .0,
        2
    );
    let (code, stdout, _) = run(
        &[
            "eval",
            "-",
            "--index",
            "i",
            "--principal",
            "p",
            "--endpoint",
            "Search",
            "--request-id",
            "r",
            "--json",
        ],
        br#"{"directives":[{"id":"a"}]}"#,
    );
    assert_eq!(code, 1);
    assert!(stdout.starts_with(r#"{"ok":false"#), "{stdout}");
}

#[test]
fn eval_prints_the_decision() {
    let set = br#"{"published_at":1000,"directives":[{"id":"t","level":"ShapeTiming","ttl_secs":60,"tenant":"acme","capture":true}]}"#;
    let args = |tenant: Option<&str>, now: &str| {
        let mut a = vec![
            "eval",
            "-",
            "--index",
            "orders",
            "--principal",
            "p",
            "--endpoint",
            "Search",
            "--request-id",
            "r",
            "--now-ms",
        ];
        a.push(Box::leak(now.to_owned().into_boxed_str()));
        if let Some(t) = tenant {
            a.push("--tenant");
            a.push(Box::leak(t.to_owned().into_boxed_str()));
        }
        a
    };
    let (code, stdout, _) = run(&args(Some("acme"), "2000"), set);
    assert_eq!(
        (code, stdout.trim()),
        (
            0,
            "level=ShapeTiming ring_buffer=false capture=true matched=[t]"
        )
    );
    let (_, stdout, _) = run(&args(None, "2000"), set);
    assert_eq!(
        stdout.trim(),
        "level=Off ring_buffer=false capture=false matched=[]"
    );
    let (_, stdout, _) = run(&args(Some("acme"), "61000"), set);
    assert_eq!(
        stdout.trim(),
        "level=Off ring_buffer=false capture=false matched=[]",
        "expired at 1000 + 60 s"
    );
}

#[test]
fn every_verb_has_help_with_an_example() {
    // Every verb `--help` lists, so a new one cannot skip its example.
    let help = ctl(&["--help"], b"").stdout;
    let verbs: Vec<&str> = help
        .lines()
        .skip_while(|l| !l.starts_with("Commands:"))
        .skip(1)
        .take_while(|l| !l.trim().is_empty())
        .filter_map(|l| l.split_whitespace().next())
        .filter(|v| *v != "help")
        .collect();
    assert!(verbs.len() >= 15, "{verbs:?}");
    for verb in verbs {
        let out = ctl(&[verb, "--help"], b"");
        assert_eq!(out.code, 0, "{verb}: {out:?}");
        assert!(out.stdout.contains("Example:"), "{verb}: {out:?}");
    }
}

#[test]
fn the_first_hour_papercuts_stay_fixed() {
    // An invalid set given to eval: the same human listing as validate.
    let bad = br#"{"directives":[{"id":"a","level":"Nope","ttl_secs":5}]}"#;
    let eval = [
        "eval",
        "-",
        "--index",
        "i",
        "--principal",
        "p",
        "--endpoint",
        "Search",
        "--request-id",
        "r",
    ];
    let (code, stdout, _) = run(&eval, bad);
    assert_eq!(code, 1);
    assert!(
        stdout.starts_with("<stdin>:1:") && stdout.contains("unknown_level"),
        "{stdout}"
    );
    // An expired directive is said to be expired, not "expires in 0s".
    let old = br#"{"published_at":1000,"directives":[{"id":"a","level":"Shape","ttl_secs":5}]}"#;
    let (code, stdout, _) = run(&["validate", "-", "--now-ms", "6000"], old);
    assert_eq!(
        (code, stdout.lines().nth(1)),
        (0, Some("  a Shape expired"))
    );
    let (_, stdout, _) = run(&["validate", "-", "--now-ms", "5700"], old);
    assert_eq!(stdout.lines().nth(1), Some("  a Shape expires in 1s"));
    // Completion scripts.
    let (code, stdout, _) = run(&["completion", "bash"], b"");
    assert_eq!(code, 0);
    assert!(stdout.contains("_directivectl"), "{stdout}");
}

#[test]
fn a_closed_pipe_ends_output_quietly() {
    // The reader is gone before the first write (as with `| head -c 0`).
    let mut child = Command::new(BIN)
        .arg("schema")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    drop(child.stdout.take());
    let out = child.wait_with_output().expect("wait");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!(out.status.code(), Some(141), "128 + SIGPIPE: {stderr}");
}
