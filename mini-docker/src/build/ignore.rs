//! `.dockerignore`: Docker's pattern rules. One pattern a line, `#`
//! comments, paths cleaned and relative to the context root, `*` `?` `[…]`
//! within one path element, `**` across any number of them, `!` for an
//! exception; the last pattern that matches decides, and a pattern that
//! matches a directory also matches everything under it.

use regex::Regex;

use crate::gopath::clean_relative as clean;

/// One pattern, compiled.
#[derive(Debug, Clone)]
struct Pattern {
    regex: Regex,
    exclusion: bool,
}

/// A `.dockerignore` file's patterns.
#[derive(Debug, Clone, Default)]
pub struct Ignore {
    patterns: Vec<Pattern>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    #[error("illegal exclusion pattern: \"!\"")]
    LoneBang,
    #[error("syntax error in pattern")]
    Syntax,
}

/// A glob (Go's `filepath.Match` syntax plus `**`) as an anchored regex.
pub fn glob_regex(pattern: &str) -> Result<Regex, Error> {
    let mut out = String::from("^");
    let chars: Vec<char> = pattern.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        match c {
            '*' if chars.get(i + 1) == Some(&'*') => {
                i += 1;
                if chars.get(i + 1) == Some(&'/') {
                    // `**/` : zero or more whole directories.
                    i += 1;
                    out.push_str("(?:.*/)?");
                } else {
                    out.push_str(".*");
                }
            }
            '*' => out.push_str("[^/]*"),
            '?' => out.push_str("[^/]"),
            '[' => {
                let close = chars[i + 1..]
                    .iter()
                    .position(|&c| c == ']')
                    .ok_or(Error::Syntax)?;
                let class: String = chars[i + 1..i + 1 + close].iter().collect();
                let class = match class.strip_prefix('^') {
                    Some(rest) => format!("^{rest}"),
                    None => class,
                };
                if class.is_empty() {
                    return Err(Error::Syntax);
                }
                out.push('[');
                out.push_str(&class.replace('\\', "\\\\").replace('[', "\\["));
                out.push(']');
                i += close + 1;
            }
            '\\' => {
                i += 1;
                let next = chars.get(i).ok_or(Error::Syntax)?;
                out.push_str(&regex::escape(&next.to_string()));
            }
            c => out.push_str(&regex::escape(&c.to_string())),
        }
        i += 1;
    }
    out.push('$');
    Regex::new(&out).map_err(|_| Error::Syntax)
}

impl Ignore {
    /// Parses a `.dockerignore` file's text.
    pub fn parse(text: &str) -> Result<Ignore, Error> {
        let mut patterns = Vec::new();
        for line in text.lines() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let (exclusion, body) = match line.strip_prefix('!') {
                Some(rest) => (true, rest.trim()),
                None => (false, line),
            };
            if exclusion && body.is_empty() {
                return Err(Error::LoneBang);
            }
            let body = clean(body);
            if body.is_empty() {
                continue;
            }
            patterns.push(Pattern {
                regex: glob_regex(&body)?,
                exclusion,
            });
        }
        Ok(Ignore { patterns })
    }

    /// Whether `path` (relative, cleaned) is left out of the context.
    pub fn excluded(&self, path: &str) -> bool {
        let path = clean(path);
        if path.is_empty() {
            return false;
        }
        let parents: Vec<&str> = path
            .match_indices('/')
            .map(|(i, _)| &path[..i])
            .chain([path.as_str()])
            .collect();
        let mut excluded = false;
        for p in &self.patterns {
            if parents.iter().any(|candidate| p.regex.is_match(candidate)) {
                excluded = !p.exclusion;
            }
        }
        excluded
    }

    /// Whether an excluded directory may still hold included files (an
    /// exception pattern exists), so a walk must look inside it.
    pub fn has_exceptions(&self) -> bool {
        self.patterns.iter().any(|p| p.exclusion)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn ig(text: &str) -> Ignore {
        Ignore::parse(text).unwrap()
    }

    #[test]
    fn docker_examples() {
        let i = ig("# comment\n*/temp*\n*/*/temp*\ntemp?\n");
        assert!(i.excluded("somedir/temporary.txt"));
        assert!(i.excluded("somedir/temp"));
        assert!(i.excluded("a/b/temp.x"));
        assert!(i.excluded("temp1"));
        assert!(!i.excluded("temp12"));
        assert!(!i.excluded("temp.txt"));
    }

    #[test]
    fn double_star_and_exceptions() {
        let i = ig("**/*.go\n");
        assert!(i.excluded("main.go"));
        assert!(i.excluded("a/b/c.go"));
        assert!(!i.excluded("a/b/c.rs"));
        let i = ig("*.md\n!README.md\n");
        assert!(i.excluded("CHANGES.md"));
        assert!(!i.excluded("README.md"));
        let i = ig("!README.md\n*.md\n");
        assert!(i.excluded("README.md"), "the last match decides");
    }

    #[test]
    fn a_directory_takes_its_contents_along() {
        let i = ig("/build/\nnode_modules\n");
        assert!(i.excluded("build"));
        assert!(i.excluded("build/out/x.o"));
        assert!(i.excluded("node_modules/a/b"));
        assert!(!i.excluded("src/build.rs"));
        let i = ig("dir\n!dir/keep\n");
        assert!(i.excluded("dir/other"));
        assert!(!i.excluded("dir/keep"));
        assert!(i.has_exceptions());
    }

    #[test]
    fn paths_are_cleaned() {
        assert_eq!(clean("./a//b/../c/"), "a/c");
        let i = ig("./a/../b\n");
        assert!(i.excluded("b"));
        assert_eq!(Ignore::parse("!\n").unwrap_err(), Error::LoneBang);
        assert_eq!(Ignore::parse("[a\n").unwrap_err(), Error::Syntax);
    }

    #[test]
    fn character_classes() {
        let i = ig("f[0-9].txt\ng[^a].txt\n");
        assert!(i.excluded("f1.txt"));
        assert!(!i.excluded("fa.txt"));
        assert!(i.excluded("gb.txt"));
        assert!(!i.excluded("ga.txt"));
    }

    proptest! {
        /// A literal name excludes itself and everything below it, and
        /// nothing else that merely starts with it.
        #[test]
        fn literal_names(name in "[a-z]{1,8}", child in "[a-z]{1,8}", suffix in "[a-z]{1,3}") {
            let i = ig(&name);
            let below = format!("{name}/{child}");
            prop_assert!(i.excluded(&name));
            prop_assert!(i.excluded(&below));
            let longer = format!("{name}{suffix}");
            prop_assert!(!i.excluded(&longer));
        }

        /// `!p` after `p` always re-includes exactly what `p` excluded.
        #[test]
        fn exception_undoes(name in "[a-z]{1,8}") {
            let i = ig(&format!("{name}\n!{name}\n"));
            prop_assert!(!i.excluded(&name));
        }

        /// `*` never crosses a slash; `**` does.
        #[test]
        fn star_stays_in_an_element(a in "[a-z]{1,6}", b in "[a-z]{1,6}") {
            let deep = format!("x/{a}/{b}.c");
            prop_assert!(!ig("x/*.c").excluded(&deep));
            prop_assert!(ig("x/**/*.c").excluded(&deep));
        }

        /// Parsing never panics.
        #[test]
        fn never_panics(text in "\\PC{0,80}") {
            if let Ok(i) = Ignore::parse(&text) {
                let _ = i.excluded("a/b");
            }
        }
    }
}
