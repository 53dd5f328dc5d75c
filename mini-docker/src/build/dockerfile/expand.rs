//! Variable substitution as the Dockerfile's shell-word lexer does it:
//! `$VAR`, `${VAR}`, `${VAR:-word}`, `${VAR-word}`, `${VAR:+word}`,
//! `${VAR+word}`, `${VAR:?msg}`, single and double quotes (removed), and
//! the escape character. Applied only by the instructions Docker applies it
//! to (see [`super::Keyword::expands`]); `RUN`, `CMD` and `ENTRYPOINT`
//! leave `$` to the shell.

/// Why a word cannot be expanded (the lexer's messages).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    #[error("unexpected end of statement while looking for matching {0}")]
    Unterminated(&'static str),
    #[error("syntax error: missing '}}'")]
    MissingBrace,
    #[error("syntax error: bad substitution")]
    BadSubstitution,
    #[error("unsupported modifier ({0}) in substitution")]
    Modifier(String),
    #[error("{0}: {1}")]
    Required(String, String),
}

/// Looks a variable up; `None` is unset.
pub trait Env {
    fn get(&self, name: &str) -> Option<&str>;
}

impl Env for [(String, String)] {
    fn get(&self, name: &str) -> Option<&str> {
        self.iter()
            .rev()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

impl Env for Vec<(String, String)> {
    fn get(&self, name: &str) -> Option<&str> {
        Env::get(self.as_slice(), name)
    }
}

struct Lexer<'a> {
    chars: Vec<char>,
    pos: usize,
    escape: char,
    env: &'a dyn Env,
}

/// Expands one word: quotes removed, variables replaced.
pub fn word(text: &str, escape: char, env: &dyn Env) -> Result<String, Error> {
    let mut lexer = Lexer {
        chars: text.chars().collect(),
        pos: 0,
        escape,
        env,
    };
    lexer.until(None)
}

/// Expands a whitespace-separated list (`EXPOSE`, `VOLUME`, `COPY`'s shell
/// form): each word as [`word`], the splitting done before expansion, as the
/// classic builder does it on the parser's words.
pub fn words(list: &[String], escape: char, env: &dyn Env) -> Result<Vec<String>, Error> {
    list.iter().map(|w| word(w, escape, env)).collect()
}

impl Lexer<'_> {
    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    fn next(&mut self) -> Option<char> {
        let c = self.peek();
        self.pos += usize::from(c.is_some());
        c
    }

    /// Reads to `stop` (consumed) or the end.
    fn until(&mut self, stop: Option<char>) -> Result<String, Error> {
        let mut out = String::new();
        while let Some(c) = self.peek() {
            if Some(c) == stop {
                self.next();
                return Ok(out);
            }
            match c {
                '$' => out.push_str(&self.dollar()?),
                '\'' => out.push_str(&self.single()?),
                '"' => out.push_str(&self.double()?),
                _ => {
                    self.next();
                    if c == self.escape {
                        match self.next() {
                            Some(n) => out.push(n),
                            None => break,
                        }
                    } else {
                        out.push(c);
                    }
                }
            }
        }
        match stop {
            Some(_) => Err(Error::MissingBrace),
            None => Ok(out),
        }
    }

    fn single(&mut self) -> Result<String, Error> {
        self.next();
        let mut out = String::new();
        loop {
            match self.next() {
                None => return Err(Error::Unterminated("single-quote")),
                Some('\'') => return Ok(out),
                Some(c) => out.push(c),
            }
        }
    }

    fn double(&mut self) -> Result<String, Error> {
        self.next();
        let mut out = String::new();
        loop {
            match self.peek() {
                None => return Err(Error::Unterminated("double-quote")),
                Some('"') => {
                    self.next();
                    return Ok(out);
                }
                Some('$') => out.push_str(&self.dollar()?),
                Some(c) => {
                    self.next();
                    if c == self.escape {
                        match self.peek() {
                            None => continue,
                            Some(n) if n == '"' || n == '$' || n == self.escape => {
                                self.next();
                                out.push(n);
                                continue;
                            }
                            Some(_) => {}
                        }
                    }
                    out.push(c);
                }
            }
        }
    }

    fn name(&mut self) -> String {
        let mut name = String::new();
        if let Some(c) = self.peek().filter(char::is_ascii_digit) {
            self.next();
            name.push(c);
            return name;
        }
        while let Some(c) = self.peek() {
            if c.is_ascii_alphanumeric() || c == '_' {
                name.push(c);
                self.next();
            } else {
                break;
            }
        }
        name
    }

    fn dollar(&mut self) -> Result<String, Error> {
        self.next();
        if self.peek() != Some('{') {
            let name = self.name();
            if name.is_empty() {
                return Ok("$".into());
            }
            return Ok(self.env.get(&name).unwrap_or_default().to_string());
        }
        self.next();
        match self.peek() {
            None => return Err(Error::MissingBrace),
            Some('{' | '}' | ':') => return Err(Error::BadSubstitution),
            Some(_) => {}
        }
        let name = self.name();
        let value = self.env.get(&name).map(str::to_string);
        let mut modifier = match self.next() {
            None => return Err(Error::MissingBrace),
            Some('}') => return Ok(value.unwrap_or_default()),
            Some(c) => c.to_string(),
        };
        let null_is_unset = modifier == ":";
        if null_is_unset {
            match self.next() {
                Some(c) => modifier.push(c),
                None => return Err(Error::MissingBrace),
            }
        }
        let op = modifier.chars().last().unwrap_or(':');
        if !matches!(op, '-' | '+' | '?') {
            return Err(Error::Modifier(modifier));
        }
        let word = self.until(Some('}'))?;
        let set = match &value {
            None => false,
            Some(v) => !(null_is_unset && v.is_empty()),
        };
        Ok(match op {
            '-' if set => value.unwrap_or_default(),
            '-' => word,
            '+' if set => word,
            '+' => String::new(),
            _ if set => value.unwrap_or_default(),
            _ => {
                let message = if !word.is_empty() {
                    word
                } else if value.is_none() {
                    "is not allowed to be unset".into()
                } else {
                    "is not allowed to be empty".into()
                };
                return Err(Error::Required(name, message));
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn env() -> Vec<(String, String)> {
        vec![
            ("A".into(), "apple".into()),
            ("E".into(), String::new()),
            ("SP".into(), "two words".into()),
        ]
    }

    fn x(text: &str) -> String {
        word(text, '\\', &env()).unwrap()
    }

    #[test]
    fn substitutes_like_dockerfiles() {
        assert_eq!(x("$A"), "apple");
        assert_eq!(x("${A}pie"), "applepie");
        assert_eq!(x("$Apie"), "");
        assert_eq!(x("$NOPE-x"), "-x");
        assert_eq!(x("${NOPE:-pear}"), "pear");
        assert_eq!(x("${E:-pear}"), "pear");
        assert_eq!(x("${E-pear}"), "");
        assert_eq!(x("${A:-pear}"), "apple");
        assert_eq!(x("${A:+yes}"), "yes");
        assert_eq!(x("${E:+yes}"), "");
        assert_eq!(x("${E+yes}"), "yes");
        assert_eq!(x("${NOPE:+yes}"), "");
        assert_eq!(x("${NOPE:-${A}}"), "apple");
        assert_eq!(x("cost$"), "cost$");
        assert_eq!(x("$ A"), "$ A");
    }

    #[test]
    fn quotes_and_escapes() {
        assert_eq!(x("'$A'"), "$A");
        assert_eq!(x("\"$A b\""), "apple b");
        assert_eq!(x("\\$A"), "$A");
        assert_eq!(x("\"a\\\"b\""), "a\"b");
        assert_eq!(x("\"a\\nb\""), "a\\nb");
        assert_eq!(x("\"$SP\""), "two words");
        assert_eq!(word("`$A", '`', &env()).unwrap(), "$A");
    }

    #[test]
    fn errors_read_as_the_lexers() {
        let e = |t: &str| word(t, '\\', &env()).unwrap_err().to_string();
        assert_eq!(
            e("'abc"),
            "unexpected end of statement while looking for matching single-quote"
        );
        assert_eq!(
            e("\"abc"),
            "unexpected end of statement while looking for matching double-quote"
        );
        assert_eq!(e("${A"), "syntax error: missing '}'");
        assert_eq!(e("${}"), "syntax error: bad substitution");
        assert_eq!(e("${A:=x}"), "unsupported modifier (:=) in substitution");
        assert_eq!(e("${NOPE:?must be set}"), "NOPE: must be set");
        assert_eq!(e("${E:?}"), "E: is not allowed to be empty");
    }

    proptest! {
        /// Text without the lexer's special characters is left alone.
        #[test]
        fn plain_text_is_unchanged(s in "[a-zA-Z0-9 ./:_=,-]{0,40}") {
            prop_assert_eq!(x(&s), s);
        }

        /// A single-quoted string is taken literally, whatever it holds.
        #[test]
        fn single_quotes_are_literal(s in "[^']{0,40}") {
            prop_assert_eq!(x(&format!("'{s}'")), s);
        }

        /// `${V:-d}` is the value when set and not empty, `d` otherwise.
        #[test]
        fn default_rule(v in "[a-z]{0,8}", d in "[a-z]{0,8}") {
            let env = vec![("V".to_string(), v.clone())];
            let got = word(&format!("${{V:-{d}}}"), '\\', &env).unwrap();
            prop_assert_eq!(got, if v.is_empty() { d } else { v });
        }

        /// The lexer never panics on any input.
        #[test]
        fn never_panics(s in "\\PC{0,60}") {
            let _ = word(&s, '\\', &env());
        }
    }
}
