//! Tokens to a tree, with Go's parse-time checks: every function must
//! exist, every variable must be declared in scope, every block must end.

use super::lexer::{line_of, Keyword, Tok, Token};
use super::Error;

#[derive(Debug, Clone)]
pub enum Node {
    Text(String),
    Action(Pipe),
    If(Branch),
    With(Branch),
    Range(Branch),
    Break,
    Continue,
    /// `{{template "name" pipeline}}` (and the use half of `{{block}}`).
    Template {
        pos: usize,
        name: String,
        pipe: Option<Pipe>,
    },
}

/// A parsed template: its main body and the ones `define` and `block` name.
#[derive(Debug, Clone, Default)]
pub struct Tree {
    pub main: Vec<Node>,
    pub defines: std::collections::BTreeMap<String, Vec<Node>>,
}

/// `if`, `with` and `range`: a pipeline, a body and an optional `else`.
#[derive(Debug, Clone)]
pub struct Branch {
    pub pipe: Pipe,
    pub body: Vec<Node>,
    pub otherwise: Option<Vec<Node>>,
}

#[derive(Debug, Clone)]
pub struct Pipe {
    pub pos: usize,
    /// `$x :=` / `$k, $v :=` (or `$x =` when `assign`).
    pub decl: Vec<String>,
    pub assign: bool,
    pub cmds: Vec<Cmd>,
}

#[derive(Debug, Clone)]
pub struct Cmd {
    pub pos: usize,
    pub args: Vec<Arg>,
}

#[derive(Debug, Clone)]
pub enum Arg {
    /// `.A.B`: its position is Go's (the second name's, in a chain).
    Field {
        pos: usize,
        names: Vec<String>,
    },
    Dot(usize),
    Var {
        pos: usize,
        name: String,
        fields: Vec<String>,
    },
    Func(usize, String),
    Str(usize, String),
    Number(usize, String),
    Bool(usize, bool),
    Nil(usize),
    /// `(pipeline).A.B`.
    Sub {
        pos: usize,
        pipe: Box<Pipe>,
        fields: Vec<String>,
    },
}

impl Arg {
    pub fn pos(&self) -> usize {
        match self {
            Arg::Field { pos, .. }
            | Arg::Var { pos, .. }
            | Arg::Sub { pos, .. }
            | Arg::Dot(pos)
            | Arg::Func(pos, _)
            | Arg::Str(pos, _)
            | Arg::Number(pos, _)
            | Arg::Bool(pos, _)
            | Arg::Nil(pos) => *pos,
        }
    }
}

/// Go's rendering of a node in error messages (`<index .Cmd 5>`).
impl std::fmt::Display for Arg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let fields = |f: &mut std::fmt::Formatter<'_>, names: &[String]| {
            names.iter().try_for_each(|n| write!(f, ".{n}"))
        };
        match self {
            Arg::Field { names, .. } => fields(f, names),
            Arg::Dot(_) => f.write_str("."),
            Arg::Var {
                name, fields: fs, ..
            } => {
                f.write_str(name)?;
                fields(f, fs)
            }
            Arg::Func(_, name) => f.write_str(name),
            Arg::Str(_, s) => write!(f, "{}", super::printf::go_quote(s)),
            Arg::Number(_, n) => f.write_str(n),
            Arg::Bool(_, b) => write!(f, "{b}"),
            Arg::Nil(_) => f.write_str("nil"),
            Arg::Sub {
                pipe, fields: fs, ..
            } => {
                write!(f, "({pipe})")?;
                fields(f, fs)
            }
        }
    }
}

impl std::fmt::Display for Cmd {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (i, a) in self.args.iter().enumerate() {
            if i > 0 {
                f.write_str(" ")?;
            }
            write!(f, "{a}")?;
        }
        Ok(())
    }
}

impl std::fmt::Display for Pipe {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if !self.decl.is_empty() {
            write!(
                f,
                "{} {} ",
                self.decl.join(", "),
                if self.assign { "=" } else { ":=" }
            )?;
        }
        for (i, c) in self.cmds.iter().enumerate() {
            if i > 0 {
                f.write_str(" | ")?;
            }
            write!(f, "{c}")?;
        }
        Ok(())
    }
}

/// What ended a list of nodes.
enum Stop {
    Eof,
    End,
    /// `{{else}}`, or `{{else if …}}` (the `if` already consumed).
    Else {
        chained_if: bool,
    },
}

pub struct Parser<'a> {
    src: &'a str,
    toks: Vec<Token>,
    at: usize,
    vars: Vec<String>,
    funcs: &'a dyn Fn(&str) -> bool,
    /// How many `range`s enclose the current position (for break/continue).
    ranges: usize,
    defines: std::collections::BTreeMap<String, Vec<Node>>,
}

pub fn parse(src: &str, funcs: &dyn Fn(&str) -> bool) -> Result<Tree, Error> {
    let toks = super::lexer::lex(src)?;
    let mut p = Parser {
        src,
        toks,
        at: 0,
        vars: vec!["$".into()],
        funcs,
        ranges: 0,
        defines: Default::default(),
    };
    let (nodes, stop) = p.list()?;
    match stop {
        Stop::Eof => Ok(Tree {
            main: nodes,
            defines: p.defines,
        }),
        Stop::End => Err(p.err_prev("unexpected {{end}}")),
        Stop::Else { .. } => Err(p.err_prev("unexpected {{else}}")),
    }
}

impl Parser<'_> {
    fn peek(&self) -> &Token {
        &self.toks[self.at.min(self.toks.len() - 1)]
    }

    fn next(&mut self) -> Token {
        let t = self.peek().clone();
        if self.at < self.toks.len() - 1 {
            self.at += 1;
        }
        t
    }

    fn err_at(&self, pos: usize, msg: impl Into<String>) -> Error {
        Error::Parse {
            line: line_of(self.src, pos),
            message: msg.into(),
        }
    }

    fn err_prev(&self, msg: impl Into<String>) -> Error {
        let pos = self.toks[self.at.saturating_sub(1)].pos;
        self.err_at(pos, msg)
    }

    /// Go's description of an unexpected token.
    fn describe(t: &Tok) -> String {
        match t {
            Tok::Eof => "EOF".into(),
            Tok::Close => "\"}}\"".into(),
            Tok::Open => "\"{{\"".into(),
            Tok::Keyword(k) => format!("<{}>", k.name()),
            Tok::Field(n) => format!("{:?}", format!(".{n}")),
            Tok::Dot => "\".\"".into(),
            Tok::Var(n) | Tok::Ident(n) | Tok::Number(n) => format!("{n:?}"),
            Tok::Str(s) => format!("{:?}", super::printf::go_quote(s)),
            Tok::Bool(b) => format!("\"{b}\""),
            Tok::Nil => "\"nil\"".into(),
            Tok::Pipe => "\"|\"".into(),
            Tok::LParen => "\"(\"".into(),
            Tok::RParen => "\")\"".into(),
            Tok::Declare => "\":=\"".into(),
            Tok::Assign => "\"=\"".into(),
            Tok::Comma => "\",\"".into(),
            Tok::Text(t) => format!("{t:?}"),
        }
    }

    fn list(&mut self) -> Result<(Vec<Node>, Stop), Error> {
        let mut nodes = Vec::new();
        loop {
            let t = self.next();
            match t.tok {
                Tok::Eof => return Ok((nodes, Stop::Eof)),
                Tok::Text(s) => nodes.push(Node::Text(s)),
                Tok::Open => match self.peek().tok.clone() {
                    Tok::Keyword(Keyword::End) => {
                        self.next();
                        self.expect_close("end")?;
                        return Ok((nodes, Stop::End));
                    }
                    Tok::Keyword(Keyword::Else) => {
                        self.next();
                        if self.peek().tok == Tok::Keyword(Keyword::If) {
                            self.next();
                            return Ok((nodes, Stop::Else { chained_if: true }));
                        }
                        self.expect_close("else")?;
                        return Ok((nodes, Stop::Else { chained_if: false }));
                    }
                    Tok::Keyword(k @ (Keyword::If | Keyword::With | Keyword::Range)) => {
                        self.next();
                        nodes.push(self.branch(k)?);
                    }
                    Tok::Keyword(k @ (Keyword::Break | Keyword::Continue)) => {
                        let pos = self.next().pos;
                        if self.ranges == 0 {
                            return Err(self.err_at(
                                pos,
                                format!("{{{{{}}}}} outside {{{{range}}}}", k.name()),
                            ));
                        }
                        self.expect_close(k.name())?;
                        nodes.push(if k == Keyword::Break {
                            Node::Break
                        } else {
                            Node::Continue
                        });
                    }
                    Tok::Keyword(Keyword::Define) => {
                        self.next();
                        let name = self.template_name("define clause")?;
                        self.expect_close("define clause")?;
                        let body = self.definition()?;
                        self.defines.insert(name, body);
                    }
                    Tok::Keyword(k @ (Keyword::Template | Keyword::Block)) => {
                        self.next();
                        // Go places the node at its name.
                        let pos = self.peek().pos;
                        let context = if k == Keyword::Block {
                            "block clause"
                        } else {
                            "template clause"
                        };
                        let name = self.template_name(context)?;
                        let pipe = if self.peek().tok == Tok::Close {
                            self.next();
                            None
                        } else {
                            Some(self.pipeline(context, false)?)
                        };
                        if k == Keyword::Block {
                            let body = self.definition()?;
                            self.defines.insert(name.clone(), body);
                        }
                        nodes.push(Node::Template { pos, name, pipe });
                    }
                    _ => {
                        let pipe = self.pipeline("command", false)?;
                        nodes.push(Node::Action(pipe));
                    }
                },
                other => {
                    return Err(self.err_at(t.pos, format!("unexpected {}", Self::describe(&other))))
                }
            }
        }
    }

    /// The quoted name after `define`, `template` or `block`.
    fn template_name(&mut self, context: &str) -> Result<String, Error> {
        let t = self.next();
        match t.tok {
            Tok::Str(name) => Ok(name),
            other => Err(self.err_at(
                t.pos,
                format!("unexpected {} in {context}", Self::describe(&other)),
            )),
        }
    }

    /// A `define`d body up to its `{{end}}`: it sees only `$`.
    fn definition(&mut self) -> Result<Vec<Node>, Error> {
        let vars = std::mem::replace(&mut self.vars, vec!["$".into()]);
        let ranges = std::mem::replace(&mut self.ranges, 0);
        let (body, stop) = self.list()?;
        self.vars = vars;
        self.ranges = ranges;
        match stop {
            Stop::End => Ok(body),
            Stop::Eof => Err(self.err_prev("unexpected EOF")),
            Stop::Else { .. } => Err(self.err_prev("unexpected {{else}}")),
        }
    }

    fn expect_close(&mut self, context: &str) -> Result<(), Error> {
        let t = self.next();
        if t.tok != Tok::Close {
            return Err(self.err_at(
                t.pos,
                format!("unexpected {} in {context}", Self::describe(&t.tok)),
            ));
        }
        Ok(())
    }

    /// `if`/`with`/`range` after its keyword: variables it declares live
    /// until its `{{end}}`.
    fn branch(&mut self, kind: Keyword) -> Result<Node, Error> {
        let scope = self.vars.len();
        let pipe = self.pipeline(kind.name(), kind == Keyword::Range)?;
        let in_range = kind == Keyword::Range;
        self.ranges += usize::from(in_range);
        let body = self.list();
        self.ranges -= usize::from(in_range);
        let (body, stop) = body?;
        let otherwise = match stop {
            Stop::Eof => return Err(self.err_prev("unexpected EOF")),
            Stop::End => None,
            Stop::Else { chained_if: false } => {
                let (nodes, stop) = self.list()?;
                match stop {
                    Stop::End => Some(nodes),
                    Stop::Eof => return Err(self.err_prev("unexpected EOF")),
                    Stop::Else { .. } => return Err(self.err_prev("expected end; found {{else}}")),
                }
            }
            Stop::Else { chained_if: true } => {
                if kind != Keyword::If {
                    return Err(self.err_prev("expected end; found {{else}}"));
                }
                // `{{else if X}}…{{end}}` is `{{else}}{{if X}}…{{end}}{{end}}`:
                // the inner `if` consumes the one `{{end}}`.
                Some(vec![self.branch(Keyword::If)?])
            }
        };
        self.vars.truncate(scope);
        let b = Branch {
            pipe,
            body,
            otherwise,
        };
        Ok(match kind {
            Keyword::If => Node::If(b),
            Keyword::With => Node::With(b),
            _ => Node::Range(b),
        })
    }

    /// A pipeline up to `}}` (or `)` inside parentheses, `context` "paren").
    fn pipeline(&mut self, context: &str, range: bool) -> Result<Pipe, Error> {
        let pos = self.peek().pos;
        let mut decl = Vec::new();
        let mut assign = false;
        // `$x :=`, `$x =`, `$k, $v :=` (two only in range).
        if let Tok::Var(name) = self.peek().tok.clone() {
            let save = self.at;
            self.next();
            match self.peek().tok {
                Tok::Declare | Tok::Assign => {
                    assign = self.next().tok == Tok::Assign;
                    decl.push(name);
                }
                Tok::Comma if range => {
                    self.next();
                    let t = self.next();
                    let Tok::Var(second) = t.tok else {
                        return Err(self.err_at(t.pos, "range can only initialize variables"));
                    };
                    if self.next().tok != Tok::Declare {
                        return Err(self.err_at(t.pos, "range can only initialize variables"));
                    }
                    decl.push(name);
                    decl.push(second);
                }
                Tok::Comma => {
                    return Err(self.err_at(
                        self.peek().pos,
                        format!("too many declarations in {context}"),
                    ))
                }
                _ => self.at = save,
            }
            if assign && !self.vars.contains(&decl[0]) {
                return Err(self.err_at(pos, format!("undefined variable {:?}", decl[0])));
            }
        }
        let end = if context == "paren" {
            Tok::RParen
        } else {
            Tok::Close
        };
        let mut cmds = Vec::new();
        loop {
            let t = self.peek().clone();
            if t.tok == end {
                self.next();
                break;
            }
            match t.tok {
                Tok::Eof => return Err(self.err_at(t.pos, "unclosed action")),
                Tok::Pipe if !cmds.is_empty() => {
                    self.next();
                    if self.peek().tok == end {
                        return Err(self.err_at(t.pos, "missing command after |"));
                    }
                }
                Tok::Pipe => {
                    return Err(self.err_at(t.pos, format!("missing value for {context}")));
                }
                _ => cmds.push(self.command(&end)?),
            }
        }
        if cmds.is_empty() {
            return Err(self.err_at(pos, format!("missing value for {context}")));
        }
        // Declared after the pipeline is parsed: `$x := $x` needs an outer $x.
        if !assign {
            self.vars.extend(decl.iter().cloned());
        }
        for (i, c) in cmds.iter().enumerate().skip(1) {
            if matches!(
                c.args[0],
                Arg::Bool(..) | Arg::Dot(_) | Arg::Nil(_) | Arg::Number(..) | Arg::Str(..)
            ) {
                return Err(self.err_at(
                    c.pos,
                    format!("non executable command in pipeline stage {}", i + 1),
                ));
            }
        }
        Ok(Pipe {
            pos,
            decl,
            assign,
            cmds,
        })
    }

    fn command(&mut self, end: &Tok) -> Result<Cmd, Error> {
        let pos = self.peek().pos;
        let mut args = Vec::new();
        loop {
            let t = self.peek().clone();
            if &t.tok == end || t.tok == Tok::Pipe {
                break;
            }
            if !args.is_empty() && !t.spaced {
                return Err(self.err_at(
                    t.pos,
                    format!("unexpected {} in operand", Self::describe(&t.tok)),
                ));
            }
            args.push(self.operand()?);
        }
        if let [Arg::Nil(p)] = args.as_slice() {
            return Err(self.err_at(*p, "nil is not a command"));
        }
        Ok(Cmd { pos, args })
    }

    fn operand(&mut self) -> Result<Arg, Error> {
        let t = self.next();
        let pos = t.pos;
        let term = match t.tok {
            Tok::Field(name) => {
                let mut names = vec![name];
                let mut chain_pos = pos;
                while let Tok::Field(n) = &self.peek().tok {
                    if self.peek().spaced {
                        break;
                    }
                    if names.len() == 1 {
                        chain_pos = self.peek().pos;
                    }
                    names.push(n.clone());
                    self.next();
                }
                return Ok(Arg::Field {
                    pos: chain_pos,
                    names,
                });
            }
            Tok::Dot => Arg::Dot(pos),
            Tok::Var(name) => {
                if !self.vars.contains(&name) {
                    return Err(self.err_at(pos, format!("undefined variable {name:?}")));
                }
                Arg::Var {
                    pos,
                    name,
                    fields: self.fields(),
                }
            }
            Tok::Ident(name) => {
                if !(self.funcs)(&name) {
                    return Err(self.err_at(pos, format!("function {name:?} not defined")));
                }
                Arg::Func(pos, name)
            }
            Tok::Str(s) => Arg::Str(pos, s),
            Tok::Number(n) => {
                if super::value::parse_number(&n).is_none() {
                    return Err(self.err_at(pos, format!("bad number syntax: {n:?}")));
                }
                Arg::Number(pos, n)
            }
            Tok::Bool(b) => Arg::Bool(pos, b),
            Tok::Nil => Arg::Nil(pos),
            Tok::LParen => {
                let pipe = self.pipeline("paren", false)?;
                Arg::Sub {
                    pos,
                    pipe: Box::new(pipe),
                    fields: self.fields(),
                }
            }
            other => {
                return Err(self.err_at(
                    pos,
                    format!("unexpected {} in operand", Self::describe(&other)),
                ))
            }
        };
        if let Tok::Field(_) = self.peek().tok {
            if !self.peek().spaced {
                let p = self.peek().pos;
                return Err(
                    self.err_at(p, format!("unexpected . after term {:?}", term.to_string()))
                );
            }
        }
        Ok(term)
    }

    /// Fields written right after a variable or a parenthesised pipeline.
    fn fields(&mut self) -> Vec<String> {
        let mut out = Vec::new();
        while let Tok::Field(n) = &self.peek().tok {
            if self.peek().spaced {
                break;
            }
            out.push(n.clone());
            self.next();
        }
        out
    }
}
