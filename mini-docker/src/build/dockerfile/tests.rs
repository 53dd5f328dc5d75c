use super::*;
use proptest::prelude::*;

fn one(line: &str) -> Command {
    instruction(line, 1, '\\', Vec::new()).unwrap().command
}

fn err(text: &str) -> String {
    parse(text).unwrap_err().render("Dockerfile")
}

#[test]
fn keywords_are_case_insensitive() {
    let f = parse("from busybox\nrun echo hi\n").unwrap();
    assert_eq!(f.instructions[1].keyword, Keyword::Run);
    assert_eq!(f.instructions[1].original, "run echo hi");
}

#[test]
fn exec_and_shell_forms() {
    assert_eq!(
        one(r#"CMD ["a", "b c"]"#),
        Command::Cmd(CommandLine::Exec(vec!["a".into(), "b c".into()]))
    );
    assert_eq!(
        one("CMD echo $HOME"),
        Command::Cmd(CommandLine::Shell("echo $HOME".into()))
    );
    // Not valid JSON: the shell form, as Docker takes it.
    assert_eq!(
        one(r#"CMD ["a", "#),
        Command::Cmd(CommandLine::Shell(r#"["a","#.into()))
    );
    let sh = vec!["/bin/sh".to_string(), "-c".to_string()];
    assert_eq!(
        CommandLine::Shell("x".into()).argv(&sh),
        ["/bin/sh", "-c", "x"]
    );
}

#[test]
fn env_and_label_forms() {
    assert_eq!(
        one(r#"ENV A=1 B="two words" C=\$x"#),
        Command::Env(vec![
            ("A".into(), "1".into()),
            ("B".into(), "\"two words\"".into()),
            ("C".into(), "\\$x".into())
        ])
    );
    assert_eq!(
        one("ENV OLD style value"),
        Command::Env(vec![("OLD".into(), "style value".into())])
    );
    assert_eq!(
        one(r#"LABEL "a b"=c"#),
        Command::Label(vec![("\"a b\"".into(), "c".into())])
    );
}

#[test]
fn flags() {
    match one("COPY --from=build --chown=1:2 --chmod=755 a b /dst/") {
        Command::Copy(t) => {
            assert_eq!(t.from.as_deref(), Some("build"));
            assert_eq!(t.chown.as_deref(), Some("1:2"));
            assert_eq!(t.chmod.as_deref(), Some("755"));
            assert_eq!(t.sources, ["a", "b"]);
            assert_eq!(t.dest, "/dst/");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        one("RUN --network=none true"),
        Command::Run {
            command: CommandLine::Shell("true".into()),
            network: RunNetwork::None
        }
    );
    assert_eq!(
        one("FROM --platform=linux/amd64 busybox AS Build"),
        Command::From {
            image: "busybox".into(),
            name: Some("build".into()),
            platform: Some("linux/amd64".into())
        }
    );
}

#[test]
fn healthcheck() {
    match one("HEALTHCHECK --interval=5s --retries=3 CMD true") {
        Command::Healthcheck(Health::Check {
            interval,
            retries,
            test,
            ..
        }) => {
            assert_eq!(interval, Some(Duration::from_secs(5)));
            assert_eq!(retries, Some(3));
            assert_eq!(test, CommandLine::Shell("true".into()));
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(one("HEALTHCHECK NONE"), Command::Healthcheck(Health::None));
}

/// Docker's classic builder's messages, as `docker build` prints them.
#[test]
fn errors_read_as_dockers() {
    assert_eq!(
        err("FROM busybox\nFOO bar\n"),
        "dockerfile parse error line 2: unknown instruction: FOO"
    );
    assert_eq!(
        err("FROM busybox\nCOPY onlyone\n"),
        "dockerfile parse error line 2: COPY requires at least two arguments, but only one was provided. Destination could not be determined"
    );
    assert_eq!(
        err("FROM busybox\nENV\n"),
        "dockerfile parse error line 2: ENV requires at least one argument"
    );
    assert_eq!(
        err("FROM busybox\nENV =x\n"),
        "dockerfile parse error line 2: ENV names can not be blank"
    );
    assert_eq!(
        err("FROM busybox\nWORKDIR\n"),
        "dockerfile parse error line 2: WORKDIR requires exactly one argument"
    );
    assert_eq!(
        err("FROM busybox\nUSER\n"),
        "dockerfile parse error line 2: USER requires exactly one argument"
    );
    assert_eq!(
        err("FROM busybox\nCOPY --bogus=1 f /y\n"),
        "dockerfile parse error line 2: Unknown flag: bogus"
    );
    assert_eq!(
        err("FROM busybox\nONBUILD FROM x\n"),
        "dockerfile parse error line 2: FROM isn't allowed as an ONBUILD trigger"
    );
    assert_eq!(
        err("FROM busybox AS\n"),
        "dockerfile parse error line 1: FROM requires either one or three arguments"
    );
    assert_eq!(
        err("FROM busybox\nLABEL a\n"),
        "failed to parse Dockerfile: LABEL must have two arguments"
    );
    assert_eq!(
        err("FROM busybox\nCMD [\"a\", 1]\n"),
        "failed to parse Dockerfile: when using JSON array syntax, arrays must be comprised of strings only"
    );
    assert_eq!(
        err("FROM busybox\nSHELL sh -c\n"),
        "dockerfile parse error line 2: SHELL requires the arguments to be in JSON form"
    );
    assert_eq!(
        err("FROM busybox\nHEALTHCHECK --interval=x CMD true\n"),
        "dockerfile parse error line 2: time: invalid duration \"x\""
    );
    assert_eq!(
        err("# just\n"),
        "failed to parse Dockerfile: file with no instructions"
    );
}

#[test]
fn go_durations() {
    assert_eq!(parse_duration("1m30s").unwrap(), Duration::from_secs(90));
    assert_eq!(parse_duration("500ms").unwrap(), Duration::from_millis(500));
    assert!(parse_duration("5").is_err());
}

proptest! {
    /// Any instruction keyword in any case parses to the same keyword.
    #[test]
    fn keyword_case(upper in proptest::collection::vec(any::<bool>(), 4)) {
        let word: String = "user".chars().zip(upper).map(|(c, u)| if u { c.to_ascii_uppercase() } else { c }).collect();
        let i = instruction(&format!("{word} nobody"), 1, '\\', Vec::new()).unwrap();
        prop_assert_eq!(i.command, Command::User("nobody".into()));
    }

    /// A JSON string array always comes back as the exec form, unchanged.
    #[test]
    fn json_round_trip(args in proptest::collection::vec("\\PC{0,12}", 1..5)) {
        let text = format!("ENTRYPOINT {}", serde_json::to_string(&args).unwrap());
        prop_assert_eq!(one(&text), Command::Entrypoint(CommandLine::Exec(args)));
    }

    /// `KEY=value` pairs of plain words come back as written.
    #[test]
    fn env_pairs(pairs in proptest::collection::vec(("[A-Z_][A-Z0-9_]{0,6}", "[a-z0-9./:-]{0,8}"), 1..5)) {
        let text: Vec<String> = pairs.iter().map(|(k, v)| format!("{k}={v}")).collect();
        let got = one(&format!("ENV {}", text.join(" ")));
        prop_assert_eq!(got, Command::Env(pairs));
    }

    /// The parser never panics, and an error always names a line or the file.
    #[test]
    fn never_panics(text in "\\PC{0,120}") {
        if let Err(e) = parse(&text) {
            let rendered = e.render("Dockerfile");
            prop_assert!(rendered.starts_with("dockerfile parse error line ") || rendered.starts_with("failed to parse Dockerfile: "));
        }
    }
}
