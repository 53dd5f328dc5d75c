//! The values a template computes with. Docker executes templates over Go
//! structs and maps, which print and marshal differently (`{a b}` in field
//! order vs `map[k:v]` in key order), so a JSON object becomes one or the
//! other depending on where it sits.

use serde_json::Value;

#[derive(Debug, Clone, PartialEq)]
pub enum Val {
    /// Go's invalid value: a missing map key or a JSON null; prints `<no value>`.
    Missing,
    /// A nil pointer field of a Docker struct: prints `<nil>`, and taking
    /// a field of it is an error.
    NilPointer,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    List(Vec<Val>),
    /// A Go map: keys kept sorted, as Go prints and marshals them.
    Map(Vec<(String, Val)>),
    /// A Go struct: fields in declaration order. `ty` names it in errors.
    Struct {
        ty: &'static str,
        fields: Vec<(String, Val)>,
    },
}

/// Fields of Docker's inspect structs that are pointers, left out of the
/// JSON (or null) when nil.
pub const NIL_POINTER_FIELDS: &[&str] = &["Health", "Healthcheck", "Node", "SizeRw", "SizeRootFs"];

/// Keys under which Docker's inspect structs hold Go maps, not structs.
const MAP_FIELDS: &[&str] = &[
    "Labels",
    "Options",
    "Networks",
    "Ports",
    "ExposedPorts",
    "Volumes",
    "Data",
    "Containers",
    "DriverOpts",
    "Sysctls",
    "Tmpfs",
    "StorageOpt",
    "Status",
    "Annotations",
];

impl Val {
    /// Docker's typed view: objects are structs, except under `MAP_FIELDS`
    /// (and `LogConfig.Config`), which are maps.
    pub fn typed(v: &Value, ty: &'static str) -> Val {
        Self::typed_in(v, ty, None, None)
    }

    fn typed_in(v: &Value, ty: &'static str, key: Option<&str>, parent: Option<&str>) -> Val {
        match v {
            Value::Object(map) => {
                let is_map = key.is_some_and(|k| {
                    MAP_FIELDS.contains(&k) || (k == "Config" && parent == Some("LogConfig"))
                });
                let entries = map
                    .iter()
                    .map(|(k, x)| {
                        let child_key = if is_map { None } else { Some(k.as_str()) };
                        (k.clone(), Self::typed_in(x, "", child_key, key))
                    })
                    .collect();
                if is_map {
                    Val::map(entries)
                } else {
                    Val::Struct {
                        ty,
                        fields: entries,
                    }
                }
            }
            Value::Array(items) => Val::List(
                items
                    .iter()
                    .map(|x| Self::typed_in(x, "", None, key))
                    .collect(),
            ),
            Value::Null if key.is_some_and(|k| NIL_POINTER_FIELDS.contains(&k)) => Val::NilPointer,
            other => Self::scalar(other, false),
        }
    }

    /// The view of JSON decoded into Go's `interface{}`: every object a
    /// map, every number a float64 (Docker's inspect fallback).
    pub fn raw(v: &Value) -> Val {
        match v {
            Value::Object(map) => {
                Val::map(map.iter().map(|(k, x)| (k.clone(), Val::raw(x))).collect())
            }
            Value::Array(items) => Val::List(items.iter().map(Val::raw).collect()),
            other => Self::scalar(other, true),
        }
    }

    fn scalar(v: &Value, floats: bool) -> Val {
        match v {
            Value::Null => Val::Missing,
            Value::Bool(b) => Val::Bool(*b),
            Value::Number(n) => match n.as_i64() {
                Some(i) if !floats => Val::Int(i),
                _ => Val::Float(n.as_f64().unwrap_or(0.0)),
            },
            Value::String(s) => Val::Str(s.clone()),
            Value::Array(_) | Value::Object(_) => Val::raw(v),
        }
    }

    pub fn map(mut entries: Vec<(String, Val)>) -> Val {
        entries.sort_by(|a, b| a.0.cmp(&b.0));
        Val::Map(entries)
    }

    /// Go's truth: false, 0, "", nil and empty collections are false;
    /// a struct is always true.
    pub fn truth(&self) -> bool {
        match self {
            Val::Missing | Val::NilPointer => false,
            Val::Bool(b) => *b,
            Val::Int(i) => *i != 0,
            Val::Float(f) => *f != 0.0,
            Val::Str(s) => !s.is_empty(),
            Val::List(l) => !l.is_empty(),
            Val::Map(m) => !m.is_empty(),
            Val::Struct { .. } => true,
        }
    }

    /// Go's type name, for `%T` and errors.
    pub fn type_name(&self) -> String {
        match self {
            Val::Missing => "<nil>".into(),
            Val::NilPointer => "*struct".into(),
            Val::Bool(_) => "bool".into(),
            Val::Int(_) => "int".into(),
            Val::Float(_) => "float64".into(),
            Val::Str(_) => "string".into(),
            Val::List(items)
                if items.iter().all(|i| matches!(i, Val::Str(_))) && !items.is_empty() =>
            {
                "[]string".into()
            }
            Val::List(_) => "[]interface {}".into(),
            Val::Map(_) => "map[string]interface {}".into(),
            Val::Struct { ty, .. } if !ty.is_empty() => (*ty).into(),
            Val::Struct { .. } => "struct".into(),
        }
    }

    /// How `{{.}}` prints it (fmt's `%v`).
    pub fn print(&self) -> String {
        match self {
            Val::Missing => "<no value>".into(),
            other => other.print_nested(),
        }
    }

    fn print_nested(&self) -> String {
        let join = |items: Vec<String>| items.join(" ");
        match self {
            Val::Missing | Val::NilPointer => "<nil>".into(),
            Val::Bool(b) => b.to_string(),
            Val::Int(i) => i.to_string(),
            Val::Float(f) => format_float_g(*f),
            Val::Str(s) => s.clone(),
            Val::List(items) => {
                format!("[{}]", join(items.iter().map(Val::print_nested).collect()))
            }
            Val::Map(m) => format!(
                "map[{}]",
                join(
                    m.iter()
                        .map(|(k, v)| format!("{k}:{}", v.print_nested()))
                        .collect()
                )
            ),
            Val::Struct { fields, .. } => format!(
                "{{{}}}",
                join(fields.iter().map(|(_, v)| v.print_nested()).collect())
            ),
        }
    }

    /// `json`: Go's encoding/json (fields in struct order, map keys sorted,
    /// `<`, `>`, `&` escaped as Go does).
    pub fn to_json(&self) -> String {
        let mut out = String::new();
        self.write_json(&mut out);
        out
    }

    fn write_json(&self, out: &mut String) {
        match self {
            Val::Missing | Val::NilPointer => out.push_str("null"),
            Val::Bool(b) => out.push_str(&b.to_string()),
            Val::Int(i) => out.push_str(&i.to_string()),
            Val::Float(f) => out.push_str(&json_float(*f)),
            Val::Str(s) => json_string(s, out),
            Val::List(items) => {
                out.push('[');
                for (i, v) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    v.write_json(out);
                }
                out.push(']');
            }
            Val::Map(fields) | Val::Struct { fields, .. } => {
                out.push('{');
                for (i, (k, v)) in fields.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    json_string(k, out);
                    out.push(':');
                    v.write_json(out);
                }
                out.push('}');
            }
        }
    }
}

fn json_string(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            // Docker's encoder has SetEscapeHTML(false): `<`, `>`, `&` stay.
            '\u{2028}' | '\u{2029}' => out.push_str(&format!("\\u{:04x}", c as u32)),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
}

/// encoding/json's float64: plain decimals, exponent form outside [1e-6, 1e21).
fn json_float(f: f64) -> String {
    let abs = f.abs();
    if abs != 0.0 && !(1e-6..1e21).contains(&abs) {
        let (digits, exp) = shortest(f);
        let mantissa = mantissa(&digits);
        let sign = if f < 0.0 { "-" } else { "" };
        format!(
            "{sign}{mantissa}e{}{:02}",
            if exp < 0 { '-' } else { '+' },
            exp.abs()
        )
        .replace("e+0", "e+")
        .replace("e-0", "e-")
    } else {
        let s = format!("{f}");
        s.strip_suffix(".0").map(str::to_string).unwrap_or(s)
    }
}

/// The shortest decimal digits of `f` and its exponent (d.ddd × 10^exp).
fn shortest(f: f64) -> (String, i32) {
    let s = format!("{:e}", f.abs());
    let (m, e) = s.split_once('e').unwrap_or((&s, "0"));
    (m.replace('.', ""), e.parse().unwrap_or(0))
}

fn mantissa(digits: &str) -> String {
    if digits.len() > 1 {
        format!("{}.{}", &digits[..1], &digits[1..])
    } else {
        digits.to_string()
    }
}

/// fmt's `%v` for a float64 (`%g` with the shortest digits): `3.14`,
/// `1e+06`, `1.5e-05`.
pub fn format_float_g(f: f64) -> String {
    if f.is_nan() {
        return "NaN".into();
    }
    if f.is_infinite() {
        return if f > 0.0 { "+Inf" } else { "-Inf" }.into();
    }
    if f == 0.0 {
        return "0".into();
    }
    let (digits, exp) = shortest(f);
    let sign = if f < 0.0 { "-" } else { "" };
    // strconv's shortest %g switches to an exponent from 1e+06 on.
    if !(-4..6).contains(&exp) {
        format!(
            "{sign}{}e{}{:02}",
            mantissa(&digits),
            if exp < 0 { '-' } else { '+' },
            exp.abs()
        )
    } else {
        let s = format!("{}", f.abs());
        format!("{sign}{}", s.strip_suffix(".0").unwrap_or(&s))
    }
}

/// A number literal: an int when it is one (decimal, hex, octal, binary,
/// with `_`), else a float.
pub fn parse_number(text: &str) -> Option<Val> {
    let clean = text.replace('_', "");
    let (neg, body) = match clean.strip_prefix('-') {
        Some(b) => (true, b),
        None => (false, clean.strip_prefix('+').unwrap_or(&clean)),
    };
    let int = if let Some(h) = body.strip_prefix("0x").or_else(|| body.strip_prefix("0X")) {
        i64::from_str_radix(h, 16).ok()
    } else if let Some(b) = body.strip_prefix("0b").or_else(|| body.strip_prefix("0B")) {
        i64::from_str_radix(b, 2).ok()
    } else if let Some(o) = body.strip_prefix("0o").or_else(|| body.strip_prefix("0O")) {
        i64::from_str_radix(o, 8).ok()
    } else if body.len() > 1 && body.starts_with('0') && body.bytes().all(|b| b.is_ascii_digit()) {
        i64::from_str_radix(&body[1..], 8).ok()
    } else if body.bytes().all(|b| b.is_ascii_digit()) && !body.is_empty() {
        body.parse().ok()
    } else {
        None
    };
    if let Some(i) = int {
        return Some(Val::Int(if neg { -i } else { i }));
    }
    if body.is_empty() || body.starts_with("0x") || !body.bytes().any(|b| b.is_ascii_digit()) {
        return None;
    }
    body.parse::<f64>()
        .ok()
        .filter(|f| f.is_finite())
        .map(|f| Val::Float(if neg { -f } else { f }))
}
