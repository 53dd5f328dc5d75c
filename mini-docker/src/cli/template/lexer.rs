//! Splits a template into text and the tokens of its actions, as Go's
//! text/template lexer does: trim markers (`{{- ` and ` -}}`) are applied
//! here, comments vanish, and every token keeps its byte offset so errors
//! can name `line:column` the way Go does.

use super::Error;

#[derive(Debug, Clone, PartialEq)]
pub enum Tok {
    Text(String),
    Open,
    Close,
    /// `.Name` (the name without the dot).
    Field(String),
    Dot,
    /// `$name`, or `$` alone.
    Var(String),
    Ident(String),
    Keyword(Keyword),
    Bool(bool),
    Nil,
    /// A number literal as written (`0x1F`, `1e3`, `'a'` already as its code).
    Number(String),
    Str(String),
    Pipe,
    LParen,
    RParen,
    Declare,
    Assign,
    Comma,
    Eof,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Keyword {
    If,
    Else,
    End,
    Range,
    With,
    Define,
    Template,
    Block,
    Break,
    Continue,
}

impl Keyword {
    pub fn name(self) -> &'static str {
        match self {
            Keyword::If => "if",
            Keyword::Else => "else",
            Keyword::End => "end",
            Keyword::Range => "range",
            Keyword::With => "with",
            Keyword::Define => "define",
            Keyword::Template => "template",
            Keyword::Block => "block",
            Keyword::Break => "break",
            Keyword::Continue => "continue",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Token {
    pub tok: Tok,
    /// Byte offset in the template.
    pub pos: usize,
    /// Whether whitespace separates it from the previous token (a field
    /// chains onto a term only when written right after it).
    pub spaced: bool,
}

/// The 1-based line of a byte offset.
pub fn line_of(src: &str, pos: usize) -> usize {
    1 + src.as_bytes()[..pos.min(src.len())]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
}

fn err(src: &str, pos: usize, msg: impl Into<String>) -> Error {
    Error::Parse {
        line: line_of(src, pos),
        message: msg.into(),
    }
}

pub fn lex(src: &str) -> Result<Vec<Token>, Error> {
    let mut out = Vec::new();
    let bytes = src.as_bytes();
    let mut i = 0;
    // Set by ` -}}`: the next text loses its leading whitespace.
    let mut trim_next = false;
    while i <= src.len() {
        let start = src[i..].find("{{").map(|o| i + o);
        let text_end = start.unwrap_or(src.len());
        let mut text = &src[i..text_end];
        if trim_next {
            text = text.trim_start_matches(is_space);
        }
        let Some(open) = start else {
            push_text(&mut out, text, i);
            break;
        };
        // `{{- ` trims the whitespace before the action.
        let trims_left = src[open + 2..].starts_with("- ")
            || src[open + 2..].starts_with("-\t")
            || src[open + 2..].starts_with("-\n")
            || src[open + 2..].starts_with("-\r");
        if trims_left {
            text = text.trim_end_matches(is_space);
        }
        push_text(&mut out, text, i);
        let mut j = open + 2 + if trims_left { 1 } else { 0 };
        // A comment: `{{/* … */}}`, possibly with trim markers.
        let after_space = j + src[j..].len() - src[j..].trim_start_matches(is_space).len();
        if src[after_space..].starts_with("/*") {
            let Some(close) = src[after_space + 2..].find("*/") else {
                return Err(err(src, open, "unclosed comment"));
            };
            let mut k = after_space + 2 + close + 2;
            let rest = &src[k..];
            let (trims_right, skip) = if rest.starts_with(" -}}") {
                (true, 4)
            } else if rest.starts_with("}}") {
                (false, 2)
            } else {
                return Err(err(src, open, "comment ends before closing delimiter"));
            };
            k += skip;
            trim_next = trims_right;
            i = k;
            continue;
        }
        out.push(Token {
            tok: Tok::Open,
            pos: open,
            spaced: false,
        });
        let mut parens = 0usize;
        let mut spaced = false;
        loop {
            // ` -}}` closes and trims what follows.
            if bytes.get(j).is_some_and(|&b| is_space(b as char))
                && src[j..].trim_start_matches(is_space).starts_with("-}}")
            {
                let dash = j + src[j..].len() - src[j..].trim_start_matches(is_space).len();
                if parens > 0 {
                    return Err(err(src, open, "unclosed left paren"));
                }
                out.push(Token {
                    tok: Tok::Close,
                    pos: dash,
                    spaced: true,
                });
                trim_next = true;
                j = dash + 3;
                break;
            }
            if src[j..].starts_with("}}") {
                if parens > 0 {
                    return Err(err(src, open, "unclosed left paren"));
                }
                out.push(Token {
                    tok: Tok::Close,
                    pos: j,
                    spaced,
                });
                trim_next = false;
                j += 2;
                break;
            }
            let Some(c) = src[j..].chars().next() else {
                return Err(err(src, src.len(), "unclosed action"));
            };
            if is_space(c) {
                spaced = true;
                j += c.len_utf8();
                continue;
            }
            let pos = j;
            let tok = match c {
                '|' => {
                    j += 1;
                    Tok::Pipe
                }
                '(' => {
                    j += 1;
                    parens += 1;
                    Tok::LParen
                }
                ')' => {
                    if parens == 0 {
                        return Err(err(src, pos, "unexpected right paren U+0029 ')'"));
                    }
                    parens -= 1;
                    j += 1;
                    Tok::RParen
                }
                ',' => {
                    j += 1;
                    Tok::Comma
                }
                ':' => {
                    if !src[j..].starts_with(":=") {
                        return Err(err(src, pos, "expected :="));
                    }
                    j += 2;
                    Tok::Declare
                }
                '=' => {
                    j += 1;
                    Tok::Assign
                }
                '"' => {
                    let (s, len) = quoted(src, j)?;
                    j += len;
                    Tok::Str(s)
                }
                '`' => {
                    let Some(end) = src[j + 1..].find('`') else {
                        return Err(err(src, pos, "unterminated raw quoted string"));
                    };
                    let s = src[j + 1..j + 1 + end].to_string();
                    j += end + 2;
                    Tok::Str(s)
                }
                '\'' => {
                    let (code, len) = char_constant(src, j)?;
                    j += len;
                    Tok::Number(code.to_string())
                }
                '$' => {
                    let len = word_len(&src[j + 1..]);
                    let name = src[j..j + 1 + len].to_string();
                    j += 1 + len;
                    Tok::Var(name)
                }
                '.' => {
                    let next = src[j + 1..].chars().next();
                    if next.is_some_and(|n| n.is_ascii_digit()) {
                        let len = number_len(&src[j..]);
                        let text = src[j..j + len].to_string();
                        j += len;
                        Tok::Number(text)
                    } else {
                        let len = word_len(&src[j + 1..]);
                        let name = src[j + 1..j + 1 + len].to_string();
                        j += 1 + len;
                        if name.is_empty() {
                            Tok::Dot
                        } else {
                            Tok::Field(name)
                        }
                    }
                }
                c if c.is_ascii_digit() || c == '+' || c == '-' => {
                    let len = number_len(&src[j..]);
                    let text = &src[j..j + len];
                    if len == 0 || !text.chars().any(|c| c.is_ascii_digit()) {
                        return Err(err(src, pos, format!("bad character {}", go_char(c))));
                    }
                    // Something glued to a number (`3x`) is not a number.
                    if src[j + len..]
                        .chars()
                        .next()
                        .is_some_and(|n| n.is_alphanumeric() || n == '_' || n == '.')
                    {
                        let bad = j + len + word_len(&src[j + len..]).max(1);
                        return Err(err(
                            src,
                            pos,
                            format!("bad number syntax: {:?}", &src[j..bad]),
                        ));
                    }
                    j += len;
                    Tok::Number(text.to_string())
                }
                c if c.is_alphabetic() || c == '_' => {
                    let len = word_len(&src[j..]);
                    let word = &src[j..j + len];
                    j += len;
                    match word {
                        "if" => Tok::Keyword(Keyword::If),
                        "else" => Tok::Keyword(Keyword::Else),
                        "end" => Tok::Keyword(Keyword::End),
                        "range" => Tok::Keyword(Keyword::Range),
                        "with" => Tok::Keyword(Keyword::With),
                        "define" => Tok::Keyword(Keyword::Define),
                        "template" => Tok::Keyword(Keyword::Template),
                        "block" => Tok::Keyword(Keyword::Block),
                        "break" => Tok::Keyword(Keyword::Break),
                        "continue" => Tok::Keyword(Keyword::Continue),
                        "true" => Tok::Bool(true),
                        "false" => Tok::Bool(false),
                        "nil" => Tok::Nil,
                        _ => Tok::Ident(word.to_string()),
                    }
                }
                c => return Err(err(src, pos, format!("bad character {}", go_char(c)))),
            };
            out.push(Token { tok, pos, spaced });
            spaced = false;
        }
        i = j;
    }
    out.push(Token {
        tok: Tok::Eof,
        pos: src.len(),
        spaced: false,
    });
    Ok(out)
}

fn push_text(out: &mut Vec<Token>, text: &str, pos: usize) {
    if !text.is_empty() {
        out.push(Token {
            tok: Tok::Text(text.to_string()),
            pos,
            spaced: false,
        });
    }
}

fn is_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\r' | '\n')
}

/// Go's `%#U` for a character: `U+0023 '#'`.
fn go_char(c: char) -> String {
    format!("U+{:04X} '{c}'", c as u32)
}

fn word_len(s: &str) -> usize {
    s.char_indices()
        .find(|&(_, c)| !(c.is_alphanumeric() || c == '_'))
        .map_or(s.len(), |(i, _)| i)
}

/// The length of a number literal's characters (validated when used).
fn number_len(s: &str) -> usize {
    let b = s.as_bytes();
    let mut i = 0;
    if i < b.len() && (b[i] == b'+' || b[i] == b'-') {
        i += 1;
    }
    let hex = s[i..].starts_with("0x") || s[i..].starts_with("0X");
    if hex {
        i += 2;
    }
    while i < b.len() {
        let c = b[i];
        let ok = c.is_ascii_digit()
            || c == b'.'
            || c == b'_'
            || (hex && c.is_ascii_hexdigit())
            || (!hex && (c == b'e' || c == b'E'))
            || ((c == b'+' || c == b'-') && i > 0 && matches!(b[i - 1], b'e' | b'E') && !hex);
        if !ok {
            break;
        }
        i += 1;
    }
    i
}

/// A double-quoted string with Go's escapes; returns it and its length.
fn quoted(src: &str, start: usize) -> Result<(String, usize), Error> {
    let mut out = String::new();
    let mut chars = src[start + 1..].char_indices();
    let unterminated = || err(src, start, "unterminated quoted string");
    while let Some((i, c)) = chars.next() {
        match c {
            '"' => return Ok((out, i + 2)),
            '\n' => return Err(unterminated()),
            '\\' => {
                let (_, e) = chars.next().ok_or_else(unterminated)?;
                match e {
                    'n' => out.push('\n'),
                    't' => out.push('\t'),
                    'r' => out.push('\r'),
                    'a' => out.push('\u{7}'),
                    'b' => out.push('\u{8}'),
                    'f' => out.push('\u{c}'),
                    'v' => out.push('\u{b}'),
                    '\\' => out.push('\\'),
                    '"' => out.push('"'),
                    '\'' => out.push('\''),
                    'x' | 'u' | 'U' => {
                        let n = match e {
                            'x' => 2,
                            'u' => 4,
                            _ => 8,
                        };
                        let hex: String = (0..n)
                            .filter_map(|_| chars.next().map(|(_, c)| c))
                            .collect();
                        let code = u32::from_str_radix(&hex, 16)
                            .ok()
                            .and_then(char::from_u32)
                            .ok_or_else(|| err(src, start, "invalid syntax"))?;
                        out.push(code);
                    }
                    _ => return Err(err(src, start, "invalid syntax")),
                }
            }
            c => out.push(c),
        }
    }
    Err(unterminated())
}

/// `'a'` or `'\n'`: the character's code point, as Go treats it.
fn char_constant(src: &str, start: usize) -> Result<(u32, usize), Error> {
    let rest = &src[start + 1..];
    let bad = || err(src, start, "unterminated character constant");
    let mut chars = rest.char_indices();
    let (_, c) = chars.next().ok_or_else(bad)?;
    let code = if c == '\\' {
        let (_, e) = chars.next().ok_or_else(bad)?;
        match e {
            'n' => 10,
            't' => 9,
            'r' => 13,
            '\\' => 92,
            '\'' => 39,
            '0' => 0,
            _ => return Err(bad()),
        }
    } else {
        c as u32
    };
    match chars.next() {
        Some((i, '\'')) => Ok((code, i + 2)),
        _ => Err(bad()),
    }
}
