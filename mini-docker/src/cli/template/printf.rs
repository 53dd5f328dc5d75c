//! Go's fmt verbs for `printf`, and `print`/`println`'s spacing rules.

use super::value::{format_float_g, Val};

/// strconv.Quote: a double-quoted Go string literal.
pub fn go_quote(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            '\u{7}' => out.push_str("\\a"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\u{b}' => out.push_str("\\v"),
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                out.push_str(&format!("\\x{:02x}", c as u32))
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// fmt.Sprint: a space between operands when neither side is a string.
pub fn sprint(args: &[Val]) -> String {
    let mut out = String::new();
    for (i, a) in args.iter().enumerate() {
        let is_str = |v: &Val| matches!(v, Val::Str(_));
        if i > 0 && !is_str(a) && !is_str(&args[i - 1]) {
            out.push(' ');
        }
        out.push_str(&a.print_nested_top());
    }
    out
}

/// fmt.Sprintln: always spaces, and a newline.
pub fn sprintln(args: &[Val]) -> String {
    let mut out: Vec<String> = args.iter().map(Val::print_nested_top).collect();
    out.push(String::new());
    let mut s = out[..out.len() - 1].join(" ");
    s.push('\n');
    s
}

impl Val {
    /// fmt's `%v` of an argument: a nil prints `<nil>`, not `<no value>`.
    pub fn print_nested_top(&self) -> String {
        match self {
            Val::Missing => "<nil>".into(),
            other => other.print(),
        }
    }
}

#[derive(Default)]
struct Spec {
    minus: bool,
    plus: bool,
    zero: bool,
    space: bool,
    sharp: bool,
    width: Option<usize>,
    precision: Option<usize>,
}

impl Spec {
    fn pad(&self, s: String) -> String {
        let len = s.chars().count();
        let Some(w) = self.width.filter(|&w| w > len) else {
            return s;
        };
        let fill = w - len;
        if self.minus {
            format!("{s}{}", " ".repeat(fill))
        } else if self.zero {
            // Zeros go after the sign.
            let (sign, digits) = match s.strip_prefix('-') {
                Some(d) => ("-", d),
                None => match s.strip_prefix('+') {
                    Some(d) => ("+", d),
                    None => ("", s.as_str()),
                },
            };
            format!("{sign}{}{digits}", "0".repeat(fill))
        } else {
            format!("{}{s}", " ".repeat(fill))
        }
    }
}

/// fmt.Sprintf over template values.
pub fn sprintf(format: &str, args: &[Val]) -> String {
    let mut out = String::new();
    let mut next = 0;
    let mut chars = format.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        let mut spec = Spec::default();
        while let Some(&f) = chars.peek() {
            match f {
                '-' => spec.minus = true,
                '+' => spec.plus = true,
                '0' => spec.zero = !spec.minus,
                ' ' => spec.space = true,
                '#' => spec.sharp = true,
                _ => break,
            }
            chars.next();
        }
        let number = |chars: &mut std::iter::Peekable<std::str::Chars>| {
            let mut n: Option<usize> = None;
            while let Some(d) = chars.peek().and_then(|c| c.to_digit(10)) {
                n = Some(n.unwrap_or(0) * 10 + d as usize);
                chars.next();
            }
            n
        };
        if chars.peek() == Some(&'*') {
            chars.next();
            if let Some(Val::Int(w)) = args.get(next) {
                spec.width = Some(w.unsigned_abs() as usize);
                spec.minus |= *w < 0;
            }
            next += 1;
        } else {
            spec.width = number(&mut chars);
        }
        if chars.peek() == Some(&'.') {
            chars.next();
            spec.precision = Some(number(&mut chars).unwrap_or(0));
        }
        let Some(verb) = chars.next() else {
            out.push_str("%!(NOVERB)");
            break;
        };
        if verb == '%' {
            out.push('%');
            continue;
        }
        let Some(arg) = args.get(next) else {
            out.push_str(&format!("%!{verb}(MISSING)"));
            continue;
        };
        next += 1;
        out.push_str(&format_one(verb, &spec, arg));
    }
    if next < args.len() {
        let extra: Vec<String> = args[next..]
            .iter()
            .map(|a| format!("{}={}", a.type_name(), a.print_nested_top()))
            .collect();
        out.push_str(&format!("%!(EXTRA {})", extra.join(", ")));
    }
    out
}

fn bad_verb(verb: char, arg: &Val) -> String {
    match arg {
        Val::Missing => format!("%!{verb}(<nil>)"),
        a => format!("%!{verb}({}={})", a.type_name(), a.print_nested_top()),
    }
}

fn format_one(verb: char, spec: &Spec, arg: &Val) -> String {
    let signed = |s: String, negative: bool| {
        if negative {
            format!("-{s}")
        } else if spec.plus {
            format!("+{s}")
        } else if spec.space {
            format!(" {s}")
        } else {
            s
        }
    };
    let body = match (verb, arg) {
        ('v', Val::Str(s)) | ('s', Val::Str(s)) => match spec.precision {
            Some(p) => s.chars().take(p).collect(),
            None => s.clone(),
        },
        ('v', Val::Struct { fields, .. }) if spec.plus => format!(
            "{{{}}}",
            fields
                .iter()
                .map(|(k, v)| format!("{k}:{}", v.print_nested_top()))
                .collect::<Vec<_>>()
                .join(" ")
        ),
        ('v', a) => a.print_nested_top(),
        ('s', a @ (Val::List(_) | Val::Map(_) | Val::Struct { .. })) => a.print_nested_top(),
        ('q', Val::Str(s)) => {
            if spec.sharp && !s.contains('`') {
                format!("`{s}`")
            } else {
                go_quote(s)
            }
        }
        ('q', Val::Int(i)) => {
            char::from_u32(*i as u32).map_or_else(|| bad_verb('q', arg), |c| format!("'{c}'"))
        }
        ('c', Val::Int(i)) => char::from_u32(*i as u32).map_or(String::new(), String::from),
        ('t', Val::Bool(b)) => b.to_string(),
        ('d', Val::Int(i)) => signed(i.unsigned_abs().to_string(), *i < 0),
        ('x', Val::Int(i)) => signed(
            prefixed(spec, "0x", format!("{:x}", i.unsigned_abs())),
            *i < 0,
        ),
        ('X', Val::Int(i)) => signed(
            prefixed(spec, "0X", format!("{:X}", i.unsigned_abs())),
            *i < 0,
        ),
        ('o', Val::Int(i)) => signed(
            prefixed(spec, "0", format!("{:o}", i.unsigned_abs())),
            *i < 0,
        ),
        ('b', Val::Int(i)) => signed(format!("{:b}", i.unsigned_abs()), *i < 0),
        ('x', Val::Str(s)) => s.bytes().map(|b| format!("{b:02x}")).collect(),
        ('X', Val::Str(s)) => s.bytes().map(|b| format!("{b:02X}")).collect(),
        ('f' | 'F', Val::Float(f)) => signed(
            format!("{:.*}", spec.precision.unwrap_or(6), f.abs()),
            *f < 0.0,
        ),
        ('e', Val::Float(f)) => signed(go_exp(f.abs(), spec.precision.unwrap_or(6)), *f < 0.0),
        ('g', Val::Float(f)) => signed(format_float_g(f.abs()), *f < 0.0),
        ('T', a) => a.type_name(),
        (v, Val::List(items)) if v != 'T' => format!(
            "[{}]",
            items
                .iter()
                .map(|i| format_one(v, &Spec::default(), i))
                .collect::<Vec<_>>()
                .join(" ")
        ),
        _ => bad_verb(verb, arg),
    };
    spec.pad(body)
}

fn prefixed(spec: &Spec, prefix: &str, digits: String) -> String {
    if spec.sharp {
        format!("{prefix}{digits}")
    } else {
        digits
    }
}

/// `%e`: d.dddddde+XX.
fn go_exp(f: f64, precision: usize) -> String {
    let s = format!("{:.*e}", precision, f);
    let (m, e) = s.split_once('e').unwrap_or((&s, "0"));
    let e: i32 = e.parse().unwrap_or(0);
    format!("{m}e{}{:02}", if e < 0 { '-' } else { '+' }, e.abs())
}
