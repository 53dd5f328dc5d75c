//! Walks the tree over a value, with Go's rules for dot, variables,
//! pipelines, truth, missing keys and function calls, and Docker's extra
//! functions.

use super::parser::{Arg, Branch, Cmd, Node, Pipe, Tree};
use super::printf::{sprint, sprintf, sprintln};
use super::value::{parse_number, Val, NIL_POINTER_FIELDS};
use super::{Error, Mode};

/// Every function a template may name (checked at parse time, as Go does).
pub const FUNCTIONS: &[&str] = &[
    "and", "or", "not", "len", "index", "slice", "print", "printf", "println", "eq", "ne", "lt",
    "le", "gt", "ge", "html", "js", "urlquery", "json", "join", "split", "upper", "lower", "title",
    "truncate", "pad",
];

/// How a list of nodes ended: normally, or at `{{break}}`/`{{continue}}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flow {
    Normal,
    Break,
    Continue,
}

pub struct Exec<'a> {
    pub src: &'a str,
    pub tree: &'a Tree,
    pub mode: Mode,
    pub vars: Vec<(String, Val)>,
    pub out: String,
}

type R<T> = Result<T, Error>;

impl Exec<'_> {
    fn fail(
        &self,
        pos: usize,
        context: &dyn std::fmt::Display,
        message: impl Into<String>,
    ) -> Error {
        let before = &self.src[..pos.min(self.src.len())];
        let line = 1 + before.matches('\n').count();
        let col = before.rfind('\n').map_or(pos, |nl| pos - nl - 1);
        let mut context = context.to_string();
        if context.chars().count() > 20 {
            context = format!("{}...", context.chars().take(20).collect::<String>());
        }
        Error::Exec {
            line,
            col,
            context,
            message: message.into(),
        }
    }

    pub fn nodes(&mut self, dot: &Val, nodes: &[Node]) -> R<Flow> {
        for n in nodes {
            let flow = match n {
                Node::Text(t) => {
                    self.out.push_str(t);
                    Flow::Normal
                }
                Node::Action(p) => {
                    let v = self.pipe(dot, p)?;
                    if p.decl.is_empty() {
                        self.out.push_str(&v.print());
                    }
                    Flow::Normal
                }
                Node::If(b) => self.branch(dot, b, false)?,
                Node::With(b) => self.branch(dot, b, true)?,
                Node::Range(b) => self.range(dot, b)?,
                Node::Break => Flow::Break,
                Node::Continue => Flow::Continue,
                Node::Template { pos, name, pipe } => {
                    let dot = match pipe {
                        Some(p) => self.pipe(dot, p)?,
                        None => Val::Missing,
                    };
                    let Some(body) = self.tree.defines.get(name) else {
                        let node = format!("{{{{template {}}}}}", super::printf::go_quote(name));
                        return Err(self.fail(
                            *pos,
                            &node,
                            format!("template {name:?} not defined"),
                        ));
                    };
                    // A template sees its own `$`, nothing else.
                    let vars = std::mem::replace(&mut self.vars, vec![("$".into(), dot.clone())]);
                    let result = self.nodes(&dot, body);
                    self.vars = vars;
                    result?;
                    Flow::Normal
                }
            };
            if flow != Flow::Normal {
                return Ok(flow);
            }
        }
        Ok(Flow::Normal)
    }

    fn branch(&mut self, dot: &Val, b: &Branch, with: bool) -> R<Flow> {
        let scope = self.vars.len();
        let v = self.pipe(dot, &b.pipe)?;
        let flow = if v.truth() {
            let dot = if with { v } else { dot.clone() };
            self.nodes(&dot, &b.body)?
        } else if let Some(other) = &b.otherwise {
            self.nodes(dot, other)?
        } else {
            Flow::Normal
        };
        self.vars.truncate(scope);
        Ok(flow)
    }

    fn range(&mut self, dot: &Val, b: &Branch) -> R<Flow> {
        let scope = self.vars.len();
        let pipe = Pipe {
            decl: Vec::new(),
            ..b.pipe.clone()
        };
        let v = self.pipe(dot, &pipe)?;
        let items: Vec<(Val, Val)> = match v {
            Val::List(items) => items
                .into_iter()
                .enumerate()
                .map(|(i, v)| (Val::Int(i as i64), v))
                .collect(),
            Val::Map(entries) => entries.into_iter().map(|(k, v)| (Val::Str(k), v)).collect(),
            Val::Missing => Vec::new(),
            other => {
                return Err(self.fail(
                    b.pipe.pos,
                    &b.pipe,
                    format!("range can't iterate over {}", other.print()),
                ))
            }
        };
        if items.is_empty() {
            if let Some(other) = &b.otherwise {
                return self.nodes(dot, other);
            }
        }
        for (key, item) in items {
            match b.pipe.decl.as_slice() {
                [v] => self.vars.push((v.clone(), item.clone())),
                [k, v] => {
                    self.vars.push((k.clone(), key));
                    self.vars.push((v.clone(), item.clone()));
                }
                _ => {}
            }
            let flow = self.nodes(&item, &b.body)?;
            self.vars.truncate(scope);
            if flow == Flow::Break {
                break;
            }
        }
        Ok(Flow::Normal)
    }

    fn pipe(&mut self, dot: &Val, p: &Pipe) -> R<Val> {
        let mut value = None;
        for cmd in &p.cmds {
            value = Some(self.cmd(dot, cmd, value)?);
        }
        let value = value.unwrap_or(Val::Missing);
        if p.assign {
            if let Some(slot) = self.vars.iter_mut().rev().find(|(n, _)| n == &p.decl[0]) {
                slot.1 = value.clone();
            }
        } else {
            for name in &p.decl {
                self.vars.push((name.clone(), value.clone()));
            }
        }
        Ok(value)
    }

    fn var(&self, name: &str) -> Val {
        self.vars
            .iter()
            .rev()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.clone())
            .unwrap_or(Val::Missing)
    }

    fn cmd(&mut self, dot: &Val, cmd: &Cmd, last: Option<Val>) -> R<Val> {
        let first = &cmd.args[0];
        let has_args = cmd.args.len() > 1 || last.is_some();
        match first {
            Arg::Func(pos, name) => {
                let mut args = Vec::new();
                // `and` and `or` stop at the first argument that decides.
                let lazy = name == "and" || name == "or";
                for a in &cmd.args[1..] {
                    let v = self.arg(dot, a)?;
                    let decided = lazy && (v.truth() == (name == "or"));
                    args.push(v);
                    if decided {
                        return Ok(args.pop().unwrap_or(Val::Missing));
                    }
                }
                args.extend(last);
                self.call(*pos, cmd, name, args)
            }
            Arg::Field { pos, names } => {
                let mut method_args = Vec::new();
                if has_args {
                    for a in &cmd.args[1..] {
                        method_args.push(self.arg(dot, a)?);
                    }
                    method_args.extend(last);
                }
                self.fields(
                    dot.clone(),
                    names,
                    *pos,
                    first,
                    has_args.then_some(method_args),
                )
            }
            _ if has_args => Err(self.fail(
                first.pos(),
                first,
                format!("can't give argument to non-function {first}"),
            )),
            _ => self.arg(dot, first),
        }
    }

    /// An argument: a value, or a function called with no arguments.
    fn arg(&mut self, dot: &Val, a: &Arg) -> R<Val> {
        Ok(match a {
            Arg::Dot(_) => dot.clone(),
            Arg::Nil(_) => Val::Missing,
            Arg::Bool(_, b) => Val::Bool(*b),
            Arg::Str(_, s) => Val::Str(s.clone()),
            Arg::Number(_, n) => parse_number(n).unwrap_or(Val::Missing),
            Arg::Field { pos, names } => self.fields(dot.clone(), names, *pos, a, None)?,
            Arg::Var { pos, name, fields } => {
                let v = self.var(name);
                self.fields(v, fields, *pos, a, None)?
            }
            Arg::Sub { pos, pipe, fields } => {
                let v = self.pipe(dot, pipe)?;
                self.fields(v, fields, *pos, a, None)?
            }
            Arg::Func(pos, name) => {
                let cmd = Cmd {
                    pos: *pos,
                    args: vec![a.clone()],
                };
                self.call(*pos, &cmd, name, Vec::new())?
            }
        })
    }

    /// `.A.B.C` from `receiver`; `method_args` are given to the last name
    /// (only `.Label "key"` is a method in Docker's listing contexts).
    fn fields(
        &self,
        mut receiver: Val,
        names: &[String],
        pos: usize,
        node: &Arg,
        method_args: Option<Vec<Val>>,
    ) -> R<Val> {
        for (i, name) in names.iter().enumerate() {
            let args = if i + 1 == names.len() {
                method_args.as_ref()
            } else {
                None
            };
            receiver = self.field(receiver, name, pos, node, args)?;
        }
        if names.is_empty() && method_args.is_some() {
            return Err(self.fail(
                pos,
                node,
                format!("can't give argument to non-function {node}"),
            ));
        }
        Ok(receiver)
    }

    fn field(
        &self,
        receiver: Val,
        name: &str,
        pos: usize,
        node: &Arg,
        args: Option<&Vec<Val>>,
    ) -> R<Val> {
        match receiver {
            Val::Struct { ty, fields } => {
                if name == "Label" && !ty.is_empty() {
                    return self.label_method(&fields, args, pos, node);
                }
                match fields.into_iter().find(|(k, _)| k == name) {
                    Some(_) if args.is_some() => Err(self.fail(
                        pos,
                        node,
                        format!("{name} has arguments but cannot be invoked as function"),
                    )),
                    Some((_, v)) => Ok(v),
                    // Docker's structs have these as nil pointers that JSON
                    // omits: `{{if .State.Health}}` is false, not an error.
                    None if ty.is_empty() && NIL_POINTER_FIELDS.contains(&name) => {
                        Ok(Val::NilPointer)
                    }
                    None => {
                        let ty = if ty.is_empty() { "struct" } else { ty };
                        Err(self.fail(
                            pos,
                            node,
                            format!("can't evaluate field {name} in type {ty}"),
                        ))
                    }
                }
            }
            Val::Map(entries) => {
                if self.mode == Mode::Header && name == "Label" {
                    // The header of a `.Label "a.b_c"` column is "b c".
                    let key = match args.map(Vec::as_slice) {
                        Some([Val::Str(k)]) => k.clone(),
                        _ => {
                            return Err(self.fail(
                                pos,
                                node,
                                "wrong number of args for Label: want 1 got 0",
                            ))
                        }
                    };
                    let last = key.rsplit('.').next().unwrap_or_default();
                    return Ok(Val::Str(last.replace(['-', '_'], " ")));
                }
                if args.is_some() {
                    return Err(self.fail(
                        pos,
                        node,
                        format!("{name} is not a method but has arguments"),
                    ));
                }
                match entries.into_iter().find(|(k, _)| k == name) {
                    Some((_, v)) => Ok(v),
                    None if self.mode == Mode::Raw => {
                        Err(self.fail(pos, node, format!("map has no entry for key {name:?}")))
                    }
                    None => Ok(Val::Missing),
                }
            }
            // Go: a field of nothing is nothing, unless missing keys are errors.
            Val::Missing if self.mode == Mode::Raw => {
                Err(self.fail(pos, node, format!("nil data; no entry for key {name:?}")))
            }
            Val::Missing => Ok(Val::Missing),
            Val::NilPointer => {
                Err(self.fail(pos, node, format!("nil pointer evaluating *struct.{name}")))
            }
            other => Err(self.fail(
                pos,
                node,
                format!("can't evaluate field {name} in type {}", other.type_name()),
            )),
        }
    }

    fn label_method(
        &self,
        fields: &[(String, Val)],
        args: Option<&Vec<Val>>,
        pos: usize,
        node: &Arg,
    ) -> R<Val> {
        let key = match args.map(Vec::as_slice) {
            Some([Val::Str(k)]) => k,
            Some(a) => {
                return Err(self.fail(
                    pos,
                    node,
                    format!("wrong number of args for Label: want 1 got {}", a.len()),
                ))
            }
            None => {
                return Err(self.fail(pos, node, "wrong number of args for Label: want 1 got 0"))
            }
        };
        let labels = fields
            .iter()
            .find(|(k, _)| k == "Labels")
            .and_then(|(_, v)| match v {
                Val::Str(s) => Some(s.clone()),
                _ => None,
            })
            .unwrap_or_default();
        let value = labels
            .split(',')
            .filter_map(|kv| kv.split_once('='))
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.to_string())
            .unwrap_or_default();
        Ok(Val::Str(value))
    }

    fn call(&self, pos: usize, cmd: &Cmd, name: &str, args: Vec<Val>) -> R<Val> {
        let ident = Arg::Func(pos, name.to_string());
        let want = |n: usize| -> R<()> {
            if args.len() != n {
                return Err(self.fail(
                    pos,
                    &ident,
                    format!(
                        "wrong number of args for {name}: want {n} got {}",
                        args.len()
                    ),
                ));
            }
            Ok(())
        };
        let at_least = |n: usize| -> R<()> {
            if args.len() < n {
                return Err(self.fail(
                    pos,
                    &ident,
                    format!(
                        "wrong number of args for {name}: want at least {n} got {}",
                        args.len()
                    ),
                ));
            }
            Ok(())
        };
        let calling = |msg: String| self.fail(cmd.pos, cmd, format!("error calling {name}: {msg}"));
        // Go checks each argument against the parameter's type: a literal
        // of the wrong kind is "expected string; found 3" at the literal,
        // any other value "wrong type for value" at that argument.
        let typed = |want: &str, i: usize| {
            // JSON decoded into interface{} has no typed slices.
            let got = match (&args[i], self.mode) {
                (Val::List(_), Mode::Raw) => "[]interface {}".to_string(),
                (v, _) => v.type_name(),
            };
            match cmd.args.get(i + 1) {
                Some(lit @ (Arg::Str(..) | Arg::Number(..) | Arg::Bool(..) | Arg::Nil(_))) => {
                    let want = if want == "int" { "integer" } else { want };
                    self.fail(lit.pos(), lit, format!("expected {want}; found {lit}"))
                }
                Some(arg) => self.fail(
                    arg.pos(),
                    arg,
                    format!("wrong type for value; expected {want}; got {got}"),
                ),
                None => self.fail(
                    cmd.pos,
                    cmd,
                    format!("wrong type for value; expected {want}; got {got}"),
                ),
            }
        };
        let string = |i: usize| -> R<String> {
            match &args[i] {
                Val::Str(s) => Ok(s.clone()),
                _ => Err(typed("string", i)),
            }
        };
        let int = |i: usize| -> R<i64> {
            match &args[i] {
                Val::Int(n) => Ok(*n),
                _ => Err(typed("int", i)),
            }
        };
        let header = self.mode == Mode::Header;
        match name {
            "and" | "or" => {
                at_least(1)?;
                let stop = |v: &Val| if name == "and" { !v.truth() } else { v.truth() };
                Ok(args
                    .iter()
                    .find(|v| stop(v))
                    .unwrap_or(&args[args.len() - 1])
                    .clone())
            }
            "not" => {
                want(1)?;
                Ok(Val::Bool(!args[0].truth()))
            }
            "len" => {
                want(1)?;
                match &args[0] {
                    Val::Str(s) => Ok(Val::Int(s.len() as i64)),
                    Val::List(l) => Ok(Val::Int(l.len() as i64)),
                    Val::Map(m) => Ok(Val::Int(m.len() as i64)),
                    Val::Missing => Err(calling("len of nil pointer".into())),
                    other => Err(calling(format!("len of type {}", other.type_name()))),
                }
            }
            "index" => {
                at_least(1)?;
                let mut item = args[0].clone();
                for key in &args[1..] {
                    item = match (&item, key) {
                        (Val::List(l), Val::Int(i)) => l
                            .get(usize::try_from(*i).unwrap_or(usize::MAX))
                            .cloned()
                            .ok_or_else(|| calling(format!("index out of range: {i}")))?,
                        (Val::Str(s), Val::Int(i)) => s
                            .as_bytes()
                            .get(usize::try_from(*i).unwrap_or(usize::MAX))
                            .map(|b| Val::Int(i64::from(*b)))
                            .ok_or_else(|| calling(format!("index out of range: {i}")))?,
                        (Val::Map(m), Val::Str(k)) => match m.iter().find(|(n, _)| n == k) {
                            Some((_, v)) => v.clone(),
                            // A missing key gives the element type's zero value.
                            None if !m.is_empty()
                                && m.iter().all(|(_, v)| matches!(v, Val::Str(_))) =>
                            {
                                Val::Str(String::new())
                            }
                            None => Val::Missing,
                        },
                        (Val::List(_) | Val::Str(_), k) => {
                            return Err(calling(format!(
                                "cannot index slice/array with type {}",
                                k.type_name()
                            )))
                        }
                        (Val::Map(_), k) => {
                            return Err(calling(format!(
                                "value has type {}; should be string",
                                k.type_name()
                            )))
                        }
                        (Val::Missing, _) => return Err(calling("index of untyped nil".into())),
                        (other, _) => {
                            return Err(calling(format!(
                                "can't index item of type {}",
                                other.type_name()
                            )))
                        }
                    };
                }
                Ok(item)
            }
            "slice" => {
                at_least(1)?;
                if args.len() > 4 {
                    return Err(calling(format!(
                        "too many slice indexes: {}",
                        args.len() - 1
                    )));
                }
                let mut idx = Vec::new();
                for i in 1..args.len() {
                    idx.push(int(i)?);
                }
                let len = match &args[0] {
                    Val::Str(s) => s.len(),
                    Val::List(l) => l.len(),
                    other => {
                        return Err(calling(format!(
                            "can't slice item of type {}",
                            other.type_name()
                        )))
                    }
                } as i64;
                let from = idx.first().copied().unwrap_or(0);
                let to = idx.get(1).copied().unwrap_or(len);
                if from < 0 || from > len {
                    return Err(calling(format!("index out of range: {from}")));
                }
                if to < 0 || to > len {
                    return Err(calling(format!("index out of range: {to}")));
                }
                if from > to {
                    return Err(calling(format!("invalid slice index: {from} > {to}")));
                }
                let (from, to) = (from as usize, to as usize);
                Ok(match &args[0] {
                    Val::Str(s) => {
                        Val::Str(s.get(from..to).map(str::to_string).unwrap_or_else(|| {
                            String::from_utf8_lossy(&s.as_bytes()[from..to]).into_owned()
                        }))
                    }
                    Val::List(l) => Val::List(l[from..to].to_vec()),
                    _ => Val::Missing,
                })
            }
            "print" => Ok(Val::Str(sprint(&args))),
            "println" => Ok(Val::Str(sprintln(&args))),
            "printf" => {
                at_least(1)?;
                let format = string(0)?;
                Ok(Val::Str(sprintf(&format, &args[1..])))
            }
            "eq" | "ne" => {
                at_least(1)?;
                if name == "ne" {
                    want(2)?;
                }
                let a = &args[0];
                let mut equal = false;
                for b in &args[1..] {
                    equal |= compare(a, b).map_err(calling)? == std::cmp::Ordering::Equal;
                }
                if args.len() == 1 {
                    return Err(calling("missing argument for comparison".into()));
                }
                Ok(Val::Bool(if name == "eq" { equal } else { !equal }))
            }
            "lt" | "le" | "gt" | "ge" => {
                want(2)?;
                for v in &args {
                    if !matches!(v, Val::Int(_) | Val::Float(_) | Val::Str(_)) {
                        return Err(calling("invalid type for comparison".into()));
                    }
                }
                let o = compare(&args[0], &args[1]).map_err(calling)?;
                use std::cmp::Ordering::*;
                Ok(Val::Bool(match name {
                    "lt" => o == Less,
                    "le" => o != Greater,
                    "gt" => o == Greater,
                    _ => o != Less,
                }))
            }
            "html" => Ok(Val::Str(html_escape(&sprint(&args)))),
            "js" => Ok(Val::Str(js_escape(&sprint(&args)))),
            "urlquery" => Ok(Val::Str(url_query(&sprint(&args)))),
            // In a table header, Docker's functions pass the header through.
            "json" if header => Ok(args.into_iter().next().unwrap_or(Val::Missing)),
            "json" => {
                want(1)?;
                Ok(Val::Str(args[0].to_json()))
            }
            "join" if header => Ok(args.into_iter().next().unwrap_or(Val::Missing)),
            "join" => {
                want(2)?;
                let sep = string(1)?;
                match &args[0] {
                    Val::List(items) => Ok(Val::Str(
                        items
                            .iter()
                            .map(Val::print_nested_top)
                            .collect::<Vec<_>>()
                            .join(&sep),
                    )),
                    _ => Err(typed("[]string", 0)),
                }
            }
            "split" if header => Ok(args.into_iter().next().unwrap_or(Val::Missing)),
            "split" => {
                want(2)?;
                let (s, sep) = (string(0)?, string(1)?);
                let parts: Vec<Val> = if sep.is_empty() {
                    s.chars().map(|c| Val::Str(c.to_string())).collect()
                } else {
                    s.split(sep.as_str())
                        .map(|p| Val::Str(p.to_string()))
                        .collect()
                };
                Ok(Val::List(parts))
            }
            "upper" | "lower" | "title" => {
                want(1)?;
                let s = string(0)?;
                Ok(Val::Str(match name {
                    _ if header => s,
                    "upper" => s.to_uppercase(),
                    "lower" => s.to_lowercase(),
                    _ => title(&s),
                }))
            }
            "truncate" => {
                want(2)?;
                let (s, n) = (string(0)?, int(1)?);
                // Docker cuts at a byte length; strings shorter than it stay.
                let n = usize::try_from(n)
                    .map_err(|_| calling(format!("slice bounds out of range [:{n}]")))?;
                if header || s.len() < n {
                    return Ok(Val::Str(s));
                }
                Ok(Val::Str(
                    String::from_utf8_lossy(&s.as_bytes()[..n]).into_owned(),
                ))
            }
            "pad" => {
                want(3)?;
                let (s, before, after) = (string(0)?, int(1)?, int(2)?);
                let spaces = |n: i64| " ".repeat(usize::try_from(n).unwrap_or(0));
                Ok(Val::Str(format!("{}{s}{}", spaces(before), spaces(after))))
            }
            _ => Err(self.fail(pos, &ident, format!("{name:?} is not a defined function"))),
        }
    }
}

/// Go's comparison of basic values; mixing kinds is an error.
fn compare(a: &Val, b: &Val) -> Result<std::cmp::Ordering, String> {
    match (a, b) {
        (Val::Int(x), Val::Int(y)) => Ok(x.cmp(y)),
        (Val::Float(x), Val::Float(y)) => x.partial_cmp(y).ok_or_else(|| "NaN".into()),
        (Val::Str(x), Val::Str(y)) => Ok(x.cmp(y)),
        (Val::Bool(x), Val::Bool(y)) => Ok(x.cmp(y)),
        (Val::Missing, Val::Missing) => Ok(std::cmp::Ordering::Equal),
        (Val::List(_) | Val::Map(_) | Val::Struct { .. }, _)
        | (_, Val::List(_) | Val::Map(_) | Val::Struct { .. }) => Err("non-comparable type".into()),
        (Val::Missing, _) | (_, Val::Missing) => Err("invalid type for comparison".into()),
        _ => Err("incompatible types for comparison".into()),
    }
}

/// text/template's `html`.
fn html_escape(s: &str) -> String {
    let mut out = String::new();
    for c in s.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '\'' => out.push_str("&#39;"),
            '"' => out.push_str("&#34;"),
            '\0' => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

/// text/template's `js`.
fn js_escape(s: &str) -> String {
    let mut out = String::new();
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\'' => out.push_str("\\'"),
            '"' => out.push_str("\\\""),
            '<' => out.push_str("\\u003C"),
            '>' => out.push_str("\\u003E"),
            '&' => out.push_str("\\u0026"),
            '=' => out.push_str("\\u003D"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04X}", c as u32)),
            c => out.push(c),
        }
    }
    out
}

/// text/template's `urlquery` (url.QueryEscape).
fn url_query(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            b' ' => out.push('+'),
            b => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// strings.Title: the first letter of each word in upper case.
fn title(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut at_start = true;
    for c in s.chars() {
        if at_start && c.is_alphabetic() {
            out.extend(c.to_uppercase());
        } else {
            out.push(c);
        }
        at_start = !(c.is_alphanumeric() || c == '_' || c == '\'');
    }
    out
}
