//! From Dockerfile text to logical lines: the parser directives at the top
//! (`# escape=`, `# syntax=`), comments, line continuations (the escape
//! character last on a line, comment and blank lines inside skipped), and
//! heredoc bodies (`RUN <<EOF … EOF`, `COPY <<-EOT /f`).

/// One instruction's text, continuations joined.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    /// 1-based line the instruction starts on.
    pub start: usize,
    pub text: String,
    pub heredocs: Vec<Heredoc>,
}

/// A heredoc's name and body (`<<-` strips leading tabs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Heredoc {
    pub name: String,
    pub content: String,
    /// `<<EOF` and `<<"EOF"` differ: a quoted name's body is not expanded.
    pub expand: bool,
}

/// The directives' outcome.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Directives {
    pub escape: char,
    /// `# syntax=`: accepted and ignored (mini-docker has one frontend).
    pub syntax: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    #[error("invalid escape token '{0}' does not match ` or \\")]
    Escape(String),
    #[error("only one escape parser directive can be used")]
    TwoEscapes,
    #[error("unterminated heredoc")]
    Heredoc,
    #[error("file with no instructions")]
    Empty,
}

/// `# key=value` at the very top.
fn directive(line: &str) -> Option<(String, String)> {
    let body = line.trim().strip_prefix('#')?.trim();
    let (key, value) = body.split_once('=')?;
    let key = key.trim();
    let mut chars = key.chars();
    let first = chars.next()?;
    (first.is_ascii_alphabetic() && chars.all(|c| c.is_ascii_alphanumeric()))
        .then(|| (key.to_ascii_lowercase(), value.trim().to_string()))
}

fn is_comment(line: &str) -> bool {
    line.trim_start().starts_with('#')
}

/// The line without its continuation character, and whether it had one:
/// the escape char last (trailing blanks allowed), unless escaped itself.
fn continuation(line: &str, escape: char) -> (&str, bool) {
    let trimmed = line.trim_end_matches([' ', '\t']);
    match trimmed.strip_suffix(escape) {
        Some(rest) if rest.is_empty() || !rest.ends_with(escape) => (rest, true),
        _ => (line, false),
    }
}

/// Splits a Dockerfile into directives and instruction lines.
pub fn split(text: &str) -> Result<(Directives, Vec<Line>), Error> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut directives = Directives {
        escape: '\\',
        syntax: None,
    };
    let raw: Vec<&str> = text
        .split('\n')
        .map(|l| l.strip_suffix('\r').unwrap_or(l))
        .collect();
    let mut i = 0;
    let mut seen_escape = false;
    while i < raw.len() {
        let Some((key, value)) = directive(raw[i]) else {
            break;
        };
        match key.as_str() {
            "escape" => {
                if seen_escape {
                    return Err(Error::TwoEscapes);
                }
                seen_escape = true;
                directives.escape = match value.as_str() {
                    "\\" => '\\',
                    "`" => '`',
                    _ => return Err(Error::Escape(value)),
                };
            }
            "syntax" => directives.syntax = Some(value),
            _ => {}
        }
        i += 1;
    }
    let escape = directives.escape;
    let mut lines = Vec::new();
    while i < raw.len() {
        let start = i + 1;
        let first = raw[i].trim_start();
        i += 1;
        if first.is_empty() || is_comment(first) {
            continue;
        }
        let (text, mut more) = continuation(first, escape);
        let mut joined = text.to_string();
        while more && i < raw.len() {
            let next = raw[i];
            i += 1;
            if is_comment(next) || next.trim().is_empty() {
                continue;
            }
            let (text, again) = continuation(next, escape);
            joined.push_str(text);
            more = again;
        }
        if joined.trim().is_empty() {
            continue;
        }
        let mut heredocs = Vec::new();
        if can_have_heredocs(&joined) {
            for (name, chomp, expand) in heredoc_names(&joined) {
                let mut content = String::new();
                let mut done = false;
                while i < raw.len() {
                    let body = raw[i];
                    i += 1;
                    let candidate = if chomp {
                        body.trim_start_matches('\t')
                    } else {
                        body
                    };
                    if candidate == name {
                        done = true;
                        break;
                    }
                    content.push_str(if chomp { candidate } else { body });
                    content.push('\n');
                }
                if !done {
                    return Err(Error::Heredoc);
                }
                heredocs.push(Heredoc {
                    name,
                    content,
                    expand,
                });
            }
        }
        lines.push(Line {
            start,
            text: joined,
            heredocs,
        });
    }
    if lines.is_empty() {
        return Err(Error::Empty);
    }
    Ok((directives, lines))
}

fn can_have_heredocs(line: &str) -> bool {
    let keyword = line.split_whitespace().next().unwrap_or("");
    ["RUN", "COPY", "ADD"]
        .iter()
        .any(|k| k.eq_ignore_ascii_case(keyword))
        && line.contains("<<")
}

/// The heredoc words of a line: `<<NAME`, `<<-NAME`, `<<"NAME"`,
/// `<<'NAME'` (optionally after a file descriptor digit).
pub fn heredoc_names(line: &str) -> Vec<(String, bool, bool)> {
    line.split_whitespace()
        .filter_map(|word| {
            let word = word.trim_start_matches(|c: char| c.is_ascii_digit());
            let rest = word.strip_prefix("<<")?;
            let (chomp, rest) = match rest.strip_prefix('-') {
                Some(r) => (true, r),
                None => (false, rest),
            };
            let quoted = ['"', '\'']
                .iter()
                .find_map(|q| rest.strip_prefix(*q).and_then(|r| r.strip_suffix(*q)));
            let name = quoted.unwrap_or(rest);
            let valid = !name.is_empty()
                && name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == '.');
            valid.then(|| (name.to_string(), chomp, quoted.is_none()))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn texts(src: &str) -> Vec<(usize, String)> {
        split(src)
            .unwrap()
            .1
            .into_iter()
            .map(|l| (l.start, l.text))
            .collect()
    }

    #[test]
    fn continuations_comments_and_blank_lines() {
        let src = "# comment\nFROM a\n\nRUN echo a \\\n# inside\n\n   b\n  cmd x\n";
        assert_eq!(
            texts(src),
            [
                (2, "FROM a".to_string()),
                (4, "RUN echo a    b".to_string()),
                (8, "cmd x".to_string())
            ]
        );
    }

    #[test]
    fn escape_directive_changes_the_continuation_character() {
        let (d, lines) = split("# escape=`\nFROM a\nRUN dir c:\\ `\n  x\n").unwrap();
        assert_eq!(d.escape, '`');
        assert_eq!(lines[1].text, "RUN dir c:\\   x");
        assert!(matches!(split("# escape=x\nFROM a"), Err(Error::Escape(_))));
    }

    #[test]
    fn directives_only_at_the_top() {
        let (d, _) = split("# syntax=docker/dockerfile:1\nFROM a\n# escape=`\n").unwrap();
        assert_eq!(d.syntax.as_deref(), Some("docker/dockerfile:1"));
        assert_eq!(d.escape, '\\');
    }

    #[test]
    fn an_escaped_escape_is_not_a_continuation() {
        assert_eq!(texts("RUN a \\\\\nRUN b")[0].1, "RUN a \\\\");
    }

    #[test]
    fn heredocs() {
        let (_, lines) =
            split("FROM a\nRUN <<EOF\necho hi\necho $X\nEOF\nCOPY <<-\"T\" /f\n\tone\n\tT\n")
                .unwrap();
        assert_eq!(lines[1].heredocs[0].content, "echo hi\necho $X\n");
        assert!(lines[1].heredocs[0].expand);
        assert_eq!(lines[2].heredocs[0].content, "one\n");
        assert!(!lines[2].heredocs[0].expand);
        assert_eq!(split("RUN <<EOF\nno end\n"), Err(Error::Heredoc));
    }

    #[test]
    fn nothing_to_build() {
        assert_eq!(split("# only\n\n"), Err(Error::Empty));
    }

    proptest! {
        /// Joining is the identity on single lines without continuation.
        #[test]
        fn plain_lines_survive(words in proptest::collection::vec("[A-Za-z][a-z0-9 ]{0,20}[a-z0-9]", 1..6)) {
            let src = words.join("\n");
            let got: Vec<String> = texts(&src).into_iter().map(|(_, t)| t).collect();
            let want: Vec<String> = words.iter().map(|w| w.to_string()).collect();
            prop_assert_eq!(got, want);
        }

        /// A line broken anywhere with a continuation joins back to itself
        /// (the break taken at a space, which the joint keeps).
        #[test]
        fn continuation_joins(a in "RUN [a-z]{1,10}", b in "[a-z]{1,10}") {
            let got = texts(&format!("{a} \\\n{b}"));
            prop_assert_eq!(&got[0].1, &format!("{a} {b}"));
        }

        /// The splitter never panics and always reports line numbers in order.
        #[test]
        fn never_panics(src in "\\PC{0,200}") {
            if let Ok((_, lines)) = split(&src) {
                prop_assert!(lines.windows(2).all(|w| w[0].start < w[1].start));
            }
        }
    }
}
