//! The part of Go's `text/template` that `--format` is used with:
//! `{{.Field.Sub}}`, `{{json .Field}}`, `{{index .Field KEY}}`,
//! `{{range .List}}…{{end}}`, and literal text around them.

use serde_json::Value;

pub fn render(template: &str, value: &Value) -> Result<String, String> {
    let mut tokens = Vec::new();
    let mut rest = template;
    while let Some(start) = rest.find("{{") {
        tokens.push(Token::Text(&rest[..start]));
        let end = rest[start..]
            .find("}}")
            .ok_or_else(|| format!("template: unclosed action in {template:?}"))?;
        tokens.push(Token::Action(rest[start + 2..start + end].trim()));
        rest = &rest[start + end + 2..];
    }
    tokens.push(Token::Text(rest));
    let mut out = String::new();
    let used = render_tokens(&tokens, value, &mut out)?;
    if used < tokens.len() {
        return Err("template: unexpected {{end}}".into());
    }
    Ok(out.replace("\\n", "\n").replace("\\t", "\t"))
}

#[derive(Debug, Clone, Copy)]
enum Token<'a> {
    Text(&'a str),
    Action(&'a str),
}

/// Renders until the end of `tokens` or an `{{end}}`; returns how many
/// tokens it consumed (the `{{end}}` included).
fn render_tokens(tokens: &[Token], dot: &Value, out: &mut String) -> Result<usize, String> {
    let mut i = 0;
    while i < tokens.len() {
        match tokens[i] {
            Token::Text(t) => out.push_str(t),
            Token::Action("end") => return Ok(i + 1),
            Token::Action(action) if action.starts_with("range ") => {
                let items: Vec<&Value> = match lookup(action["range ".len()..].trim(), dot)? {
                    Value::Array(items) => items.iter().collect(),
                    Value::Object(map) => map.values().collect(),
                    Value::Null => Vec::new(),
                    other => return Err(format!("template: range can't iterate over {other}")),
                };
                let body = skip_block(&tokens[i + 1..])?;
                for item in items {
                    render_tokens(&tokens[i + 1..], item, out)?;
                }
                i += body;
            }
            Token::Action(action) => out.push_str(&eval(action, dot)?),
        }
        i += 1;
    }
    Ok(i)
}

/// The length of a block up to its `{{end}}` (nested ranges counted).
fn skip_block(tokens: &[Token]) -> Result<usize, String> {
    let mut depth = 0;
    for (i, t) in tokens.iter().enumerate() {
        match t {
            Token::Action(a) if a.starts_with("range ") => depth += 1,
            Token::Action("end") if depth == 0 => return Ok(i + 1),
            Token::Action("end") => depth -= 1,
            _ => {}
        }
    }
    Err("template: missing {{end}}".into())
}

fn eval(action: &str, value: &Value) -> Result<String, String> {
    let (json, path) = match action.strip_prefix("json ") {
        Some(p) => (true, p.trim()),
        None => (false, action),
    };
    if let Some(args) = path.strip_prefix("index ") {
        // `index .Field KEY`: an array position or a map key.
        let (field, key) = args
            .trim()
            .rsplit_once(' ')
            .ok_or_else(|| format!("template: index needs two arguments: {action}"))?;
        let container = lookup(field.trim(), value)?;
        let key = key.trim_matches('"');
        let item = match key.parse::<usize>() {
            Ok(n) => container.get(n),
            Err(_) => container.get(key),
        }
        .ok_or_else(|| format!("template: index {key} out of range"))?;
        return Ok(if json {
            serde_json::to_string(item).map_err(|e| e.to_string())?
        } else {
            plain(item)
        });
    }
    let field = lookup(path, value)?;
    Ok(if json {
        serde_json::to_string(field).map_err(|e| e.to_string())?
    } else {
        plain(field)
    })
}

fn lookup<'a>(path: &str, value: &'a Value) -> Result<&'a Value, String> {
    if path == "." {
        return Ok(value);
    }
    let path = path
        .strip_prefix('.')
        .ok_or_else(|| format!("template: unsupported action {path:?}"))?;
    path.split('.').try_fold(value, |v, key| {
        v.get(key)
            .ok_or_else(|| format!("template: can't evaluate field {key}"))
    })
}

/// Go's default printing: strings bare, null as `<no value>`, lists as `[a b]`.
fn plain(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => "<no value>".into(),
        Value::Array(items) => format!(
            "[{}]",
            items.iter().map(plain).collect::<Vec<_>>().join(" ")
        ),
        Value::Object(map) => format!(
            "map[{}]",
            map.iter()
                .map(|(k, v)| format!("{k}:{}", plain(v)))
                .collect::<Vec<_>>()
                .join(" ")
        ),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn renders_fields_and_json() {
        let v = json!({"Id": "sha256:ab", "Config": {"Cmd": ["sh", "-c"], "User": ""}, "Size": 5});
        assert_eq!(render("{{.Id}}", &v).unwrap(), "sha256:ab");
        assert_eq!(
            render("{{json .Config.Cmd}}", &v).unwrap(),
            r#"["sh","-c"]"#
        );
        assert_eq!(
            render("size={{.Size}} cmd={{.Config.Cmd}}", &v).unwrap(),
            "size=5 cmd=[sh -c]"
        );
        let list = json!({"Mounts": [{"Name": "a"}, {"Name": "b"}], "Nets": {"x": {"IP": "1"}}});
        assert_eq!(
            render("{{range .Mounts}}{{.Name}},{{end}}", &list).unwrap(),
            "a,b,"
        );
        assert_eq!(
            render("{{range .Nets}}{{.IP}}{{end}}!", &list).unwrap(),
            "1!"
        );
        assert_eq!(render("{{index .Mounts 1}}", &list).unwrap(), "map[Name:b]");
        assert!(render("{{json (index .Mounts 0)}}", &list).is_err());
        assert!(render("{{.Nope}}", &v)
            .unwrap_err()
            .contains("can't evaluate field Nope"));
    }
}
