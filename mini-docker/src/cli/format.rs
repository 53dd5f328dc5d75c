//! `--format` for the listing commands (`ps`, `images`, `network ls`,
//! `volume ls`, `history`): Docker's row contexts, `table` headers,
//! tabwriter alignment, and each command's wording of template errors.

use serde_json::Value;

use super::table::{tabwrite, MIN_WIDTH, PADDING};
use super::template::{Mode, Template, Val};

/// Which listing a row belongs to: its Go type (named in errors), the
/// header of each field, and its default table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Listing {
    Containers,
    Images,
    Networks,
    Volumes,
    History,
}

impl Listing {
    fn go_type(self) -> &'static str {
        match self {
            Listing::Containers => "*formatter.ContainerContext",
            Listing::Images => "*formatter.imageContext",
            Listing::Networks => "*network.networkContext",
            Listing::Volumes => "*formatter.volumeContext",
            Listing::History => "*image.historyContext",
        }
    }

    fn headers(self) -> &'static [(&'static str, &'static str)] {
        match self {
            Listing::Containers => &[
                ("ID", "CONTAINER ID"),
                ("Image", "IMAGE"),
                ("Command", "COMMAND"),
                ("CreatedAt", "CREATED AT"),
                ("RunningFor", "CREATED"),
                ("Ports", "PORTS"),
                ("State", "STATE"),
                ("Status", "STATUS"),
                ("Size", "SIZE"),
                ("Names", "NAMES"),
                ("Labels", "LABELS"),
                ("Mounts", "MOUNTS"),
                ("LocalVolumes", "LOCAL VOLUMES"),
                ("Networks", "NETWORKS"),
            ],
            Listing::Images => &[
                ("ID", "IMAGE ID"),
                ("Repository", "REPOSITORY"),
                ("Tag", "TAG"),
                ("Digest", "DIGEST"),
                ("CreatedSince", "CREATED"),
                ("CreatedAt", "CREATED AT"),
                ("Size", "SIZE"),
                ("Containers", "CONTAINERS"),
                ("SharedSize", "SHARED SIZE"),
                ("UniqueSize", "UNIQUE SIZE"),
                ("VirtualSize", "SIZE"),
            ],
            Listing::Networks => &[
                ("ID", "NETWORK ID"),
                ("Name", "NAME"),
                ("Driver", "DRIVER"),
                ("Scope", "SCOPE"),
                ("IPv6", "IPV6"),
                ("Internal", "INTERNAL"),
                ("Labels", "LABELS"),
                ("CreatedAt", "CREATED AT"),
            ],
            Listing::Volumes => &[
                ("Name", "VOLUME NAME"),
                ("Driver", "DRIVER"),
                ("Scope", "SCOPE"),
                ("Mountpoint", "MOUNTPOINT"),
                ("Labels", "LABELS"),
                ("Links", "LINKS"),
                ("Size", "SIZE"),
            ],
            Listing::History => &[
                ("ID", "IMAGE"),
                ("CreatedSince", "CREATED"),
                ("CreatedAt", "CREATED AT"),
                ("CreatedBy", "CREATED BY"),
                ("Size", "SIZE"),
                ("Comment", "COMMENT"),
            ],
        }
    }

    /// The table `docker X` prints without `--format`.
    pub fn default_table(self) -> &'static str {
        match self {
            Listing::Containers => {
                "table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.RunningFor}}\t{{.Status}}\t{{.Ports}}\t{{.Names}}"
            }
            Listing::Images => "table {{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}",
            Listing::Networks => "table {{.ID}}\t{{.Name}}\t{{.Driver}}\t{{.Scope}}",
            Listing::Volumes => "table {{.Driver}}\t{{.Name}}",
            Listing::History => {
                "table {{.ID}}\t{{.CreatedSince}}\t{{.CreatedBy}}\t{{.Size}}\t{{.Comment}}"
            }
        }
    }

    /// Docker's prefixes: `ps` says "failed to parse/execute template",
    /// the other listings "template parsing error" for both.
    fn prefixes(self) -> (&'static str, &'static str) {
        match self {
            Listing::Containers => ("failed to parse template", "failed to execute template"),
            _ => ("template parsing error", "template parsing error"),
        }
    }
}

/// Renders `rows` per `format` (None: the default table) to stdout.
/// Returns the exit code: 1, with Docker's message on stderr, for a bad
/// template (nothing is printed then, as Docker buffers the rows).
/// `-q` with `--format`: Docker's formatters give the format the last word
/// (`NewContainerFormat(source, quiet)`): only the default or a bare
/// `table` becomes the IDs.
pub fn quiet_applies(quiet: bool, format: Option<&str>) -> bool {
    quiet && format.is_none_or(|f| f.trim() == "table")
}

pub fn print(listing: Listing, format: Option<&str>, rows: &[Value]) -> i32 {
    match render(listing, format, rows) {
        Ok(text) => {
            print!("{text}");
            0
        }
        Err(message) => {
            eprintln!("{message}");
            1
        }
    }
}

/// The text `print` writes, or Docker's one-line error.
pub fn render(listing: Listing, format: Option<&str>, rows: &[Value]) -> Result<String, String> {
    let format = match format.unwrap_or("table") {
        "table" => listing.default_table(),
        // Docker 23's shorthand (20.10 printed the word "json" per row).
        "json" => "{{json .}}",
        f => f,
    };
    let (table, body) = match format.strip_prefix("table") {
        Some(rest) => (true, rest.trim_matches(' ')),
        None => (false, format),
    };
    // Listing templates may write `\t` and `\n` as two characters.
    let body = body.replace("\\t", "\t").replace("\\n", "\n");
    let (parse_prefix, exec_prefix) = listing.prefixes();
    let template = Template::parse(&body).map_err(|e| format!("{parse_prefix}: {e}"))?;
    let mut out = String::new();
    for row in rows {
        let text = template
            .execute(&row_value(listing, row), Mode::Typed)
            .map_err(|e| format!("{exec_prefix}: {e}"))?;
        out.push_str(&text);
        out.push('\n');
    }
    if !table {
        return Ok(out);
    }
    let header = Val::map(
        listing
            .headers()
            .iter()
            .map(|(k, v)| (k.to_string(), Val::Str(v.to_string())))
            .collect(),
    );
    let mut text = template
        .execute(&header, Mode::Header)
        .map_err(|e| format!("{exec_prefix}: {e}"))?;
    text.push('\n');
    text.push_str(&out);
    Ok(tabwrite(&text, MIN_WIDTH, PADDING))
}

/// A row as Docker's context: a struct whose `{{json .}}` has sorted keys.
fn row_value(listing: Listing, row: &Value) -> Val {
    let mut fields: Vec<(String, Val)> = row
        .as_object()
        .into_iter()
        .flatten()
        .map(|(k, v)| (k.clone(), Val::typed(v, "")))
        .collect();
    fields.sort_by(|a, b| a.0.cmp(&b.0));
    Val::Struct {
        ty: listing.go_type(),
        fields,
    }
}

/// Docker's order for `network ls` and `volume ls` (sortorder.NaturalLess):
/// runs of digits compare as numbers, everything else byte by byte, so
/// `a9` sorts before `a10`.
pub fn natural_cmp(a: &str, b: &str) -> std::cmp::Ordering {
    use std::cmp::Ordering;
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let (mut i, mut j) = (0, 0);
    while i < a.len() && j < b.len() {
        if a[i].is_ascii_digit() && b[j].is_ascii_digit() {
            let run =
                |s: &[u8], k: usize| k + s[k..].iter().take_while(|c| c.is_ascii_digit()).count();
            let (ei, ej) = (run(a, i), run(b, j));
            let strip = |d: &[u8]| {
                let n = d.iter().take_while(|&&c| c == b'0').count();
                d[n..].to_vec()
            };
            let (x, y) = (strip(&a[i..ei]), strip(&b[j..ej]));
            let by_value = x.len().cmp(&y.len()).then_with(|| x.cmp(&y));
            if by_value != Ordering::Equal {
                return by_value;
            }
            // Equal numbers: fewer leading zeros first.
            let by_width = (ei - i).cmp(&(ej - j));
            if by_width != Ordering::Equal {
                return by_width;
            }
            (i, j) = (ei, ej);
        } else {
            if a[i] != b[j] {
                return a[i].cmp(&b[j]);
            }
            i += 1;
            j += 1;
        }
    }
    (a.len() - i).cmp(&(b.len() - j))
}

/// `k=v,k2=v2`: how listing rows show labels.
pub fn labels(labels: &std::collections::BTreeMap<String, String>) -> String {
    labels
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(",")
}

/// Go's `time.Time.String()` for an RFC 3339 UTC time:
/// `2026-12-01 04:26:37.0919 +0000 UTC` (fraction without trailing zeros).
pub fn go_time(rfc3339: &str) -> String {
    let Some((date, rest)) = rfc3339.split_once('T') else {
        return rfc3339.to_string();
    };
    let clock = rest.trim_end_matches('Z');
    let clock = match clock.split_once('.') {
        Some((whole, fraction)) => match fraction.trim_end_matches('0') {
            "" => whole.to_string(),
            f => format!("{whole}.{f}"),
        },
        None => clock.to_string(),
    };
    format!("{date} {clock} +0000 UTC")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn rows() -> Vec<Value> {
        vec![
            json!({"ID": "95cd4599c343", "Names": "web", "Ports": "", "Labels": "a=b,c=d", "Image": "busybox"}),
            json!({"ID": "4d8305805deb", "Names": "c2", "Ports": "", "Labels": "", "Image": "busybox"}),
        ]
    }

    #[test]
    fn table_prints_docker_headers_aligned() {
        let out = render(
            Listing::Containers,
            Some("table {{.ID}}\\t{{.Names}}\\t{{.Ports}}"),
            &rows(),
        )
        .unwrap();
        assert_eq!(
            out,
            "CONTAINER ID   NAMES     PORTS\n95cd4599c343   web       \n4d8305805deb   c2        \n"
        );
    }

    #[test]
    fn label_method_and_its_header() {
        let out = render(
            Listing::Containers,
            Some("table {{.Names}}\t{{.Label \"c\"}}"),
            &rows(),
        )
        .unwrap();
        assert_eq!(out, "NAMES     c\nweb       d\nc2        \n");
    }

    #[test]
    fn json_shorthand_and_sorted_keys() {
        let out = render(
            Listing::Volumes,
            Some("json"),
            &[json!({"Name": "v", "Driver": "local"})],
        )
        .unwrap();
        assert_eq!(out, "{\"Driver\":\"local\",\"Name\":\"v\"}\n");
    }

    #[test]
    fn errors_are_worded_per_command() {
        assert_eq!(
            render(Listing::Containers, Some("{{.Nope}}"), &rows()).unwrap_err(),
            "failed to execute template: template: :1:2: executing \"\" at <.Nope>: can't evaluate field Nope in type *formatter.ContainerContext"
        );
        assert_eq!(
            render(Listing::Containers, Some("{{.Names"), &rows()).unwrap_err(),
            "failed to parse template: template: :1: unclosed action"
        );
        assert_eq!(
            render(Listing::Images, Some("{{.Nope}}"), &[json!({"ID": "x"})]).unwrap_err(),
            "template parsing error: template: :1:2: executing \"\" at <.Nope>: can't evaluate field Nope in type *formatter.imageContext"
        );
    }

    #[test]
    fn natural_order_compares_numbers_as_numbers() {
        let mut names = vec!["vol1", "a10", "Z9", "a9", "a", "b2c", "b10c"];
        names.sort_by(|a, b| natural_cmp(a, b));
        assert_eq!(names, ["Z9", "a", "a9", "a10", "b2c", "b10c", "vol1"]);
    }

    #[test]
    fn go_time_trims_the_fraction() {
        assert_eq!(
            go_time("2026-12-01T04:26:37.091907770Z"),
            "2026-12-01 04:26:37.09190777 +0000 UTC"
        );
        assert_eq!(
            go_time("2026-12-01T04:26:37Z"),
            "2026-12-01 04:26:37 +0000 UTC"
        );
    }

    #[test]
    fn the_default_table_has_a_header_even_without_rows() {
        assert_eq!(
            render(Listing::Volumes, None, &[]).unwrap(),
            "DRIVER    VOLUME NAME\n"
        );
    }
}
