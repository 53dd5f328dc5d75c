//! The part of Go's `text/template` that `--format` is used with:
//! `{{.Field.Sub}}`, `{{json .Field}}`, and literal text around them.

use serde_json::Value;

pub fn render(template: &str, value: &Value) -> Result<String, String> {
    let mut out = String::new();
    let mut rest = template;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let end = rest[start..]
            .find("}}")
            .ok_or_else(|| format!("template: unclosed action in {template:?}"))?;
        let action = rest[start + 2..start + end].trim();
        out.push_str(&eval(action, value)?);
        rest = &rest[start + end + 2..];
    }
    out.push_str(rest);
    Ok(out.replace("\\n", "\n").replace("\\t", "\t"))
}

fn eval(action: &str, value: &Value) -> Result<String, String> {
    let (json, path) = match action.strip_prefix("json ") {
        Some(p) => (true, p.trim()),
        None => (false, action),
    };
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
        assert!(render("{{.Nope}}", &v)
            .unwrap_err()
            .contains("can't evaluate field Nope"));
    }
}
