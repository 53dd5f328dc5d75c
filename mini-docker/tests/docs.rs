//! Shell completions and man pages come from the clap definitions: they
//! exist for every shell asked and name the main subcommands. No root
//! needed.

use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_mini-docker");

#[test]
fn completions_name_the_main_subcommands() {
    for shell in ["bash", "zsh", "fish"] {
        let out = Command::new(BIN)
            .args(["completion", shell])
            .output()
            .unwrap();
        assert!(out.status.success(), "{shell}");
        let script = String::from_utf8(out.stdout).unwrap();
        for word in [
            "run",
            "network",
            "volume",
            "ps",
            "--dns-search",
            "completion",
        ] {
            let word = if shell == "fish" {
                word.trim_start_matches('-')
            } else {
                word
            };
            assert!(script.contains(word), "{shell}: no {word}");
        }
    }
    let out = Command::new(BIN)
        .args(["completion", "tcsh"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(125));
}

#[test]
fn man_pages_are_written_for_each_command() {
    let dir = std::env::temp_dir().join(format!("md-manpages-{}", std::process::id()));
    let out = Command::new(BIN)
        .arg("manpages")
        .arg(&dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for (page, mentions) in [
        ("mini-docker.1", "network"),
        ("mini-docker-run.1", "\\-\\-network\\-alias"),
        ("mini-docker-network-create.1", "subnet"),
        ("mini-docker-completion.1", "shell"),
    ] {
        let text = std::fs::read_to_string(dir.join(page)).unwrap();
        assert!(text.starts_with(".ie") || text.contains(".TH"), "{page}");
        assert!(text.contains(mentions), "{page}: no {mentions}");
    }
    // The hidden command has no page of its own.
    assert!(!dir.join("mini-docker-manpages.1").exists());
    std::fs::remove_dir_all(&dir).unwrap();
}
