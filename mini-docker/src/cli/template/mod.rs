//! Go's text/template as Docker uses it for `--format`: a lexer, a parser
//! to a tree, and an evaluator over JSON values viewed as Go structs and
//! maps, with Go's functions and Docker's (`json`, `join`, `split`,
//! `upper`, `lower`, `title`, `truncate`, `pad`).

mod exec;
mod lexer;
mod parser;
mod printf;
mod value;

pub use printf::go_quote;
pub use value::Val;

use serde_json::Value;

/// A template that does not parse or fails to execute, worded as Go
/// words it (Docker prints it after its own prefix).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    #[error("template: :{line}: {message}")]
    Parse { line: usize, message: String },
    #[error("template: :{line}:{col}: executing \"\" at <{context}>: {message}")]
    Exec {
        line: usize,
        col: usize,
        context: String,
        message: String,
    },
}

/// How values behave, after Docker's three ways of executing a template.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Over Go structs and maps: a missing struct field is an error, a
    /// missing map key `<no value>`.
    Typed,
    /// Over JSON decoded into `interface{}` with `missingkey=error`
    /// (`inspect`'s fallback when the typed run fails).
    Raw,
    /// A table's header row: fields are column names, Docker's functions
    /// pass them through.
    Header,
}

/// Parses and runs `src` once over `value` as a Go struct: the commands
/// that format one object (`version`, `info`, `system df`, `events`,
/// `stats` rows).
pub fn render(src: &str, value: &Value) -> Result<String, String> {
    render_as(src, value, "")
}

/// [`render`] over a value Docker's errors name by its Go type
/// (`system.info`: "can't evaluate field Nope in type system.info").
pub fn render_as(src: &str, value: &Value, type_name: &'static str) -> Result<String, String> {
    let template = Template::parse(src).map_err(|e| format!("template parsing error: {e}"))?;
    template
        .execute(&Val::typed(value, type_name), Mode::Typed)
        .map_err(|e| e.to_string())
}

#[derive(Debug, Clone)]
pub struct Template {
    src: String,
    tree: parser::Tree,
}

impl Template {
    pub fn parse(src: &str) -> Result<Self, Error> {
        let tree = parser::parse(src, &|name| exec::FUNCTIONS.contains(&name))?;
        Ok(Template {
            src: src.to_string(),
            tree,
        })
    }

    pub fn execute(&self, dot: &Val, mode: Mode) -> Result<String, Error> {
        let mut exec = exec::Exec {
            src: &self.src,
            tree: &self.tree,
            mode,
            vars: vec![("$".into(), dot.clone())],
            out: String::new(),
        };
        exec.nodes(dot, &self.tree.main)?;
        Ok(exec.out)
    }

    /// `inspect -f`: Docker runs it over its typed object first and, when
    /// that fails, over the raw JSON, whose error is the one reported.
    pub fn inspect(&self, value: &Value) -> Result<String, Error> {
        self.execute(&Val::typed(value, ""), Mode::Typed)
            .or_else(|_| self.execute(&Val::raw(value), Mode::Raw))
    }
}

#[cfg(test)]
mod tests;
