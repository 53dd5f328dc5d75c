use super::*;
use proptest::prelude::*;
use serde_json::json;

/// A container as `inspect` shows it (values from Docker 20.10's output).
fn container() -> Value {
    json!({
        "Id": "95cd4599c343",
        "Name": "/web",
        "State": {"Status": "running", "Running": true, "Paused": false, "Pid": 19727, "ExitCode": 0},
        "Config": {"Hostname": "95cd", "User": "", "Env": null, "Cmd": ["sleep", "1000"], "Labels": {"b": "2", "a": "1"}},
        "HostConfig": {"Dns": [], "LogConfig": {"Type": "json-file", "Config": {}}},
        "NetworkSettings": {"Ports": {}, "Networks": {"bridge": {"IPAddress": "172.17.0.2"}}},
        "Mounts": [{"Name": "v1", "Destination": "/data"}, {"Name": "v2", "Destination": "/x"}],
        "Size": 1986000.0,
    })
}

fn render(template: &str) -> String {
    Template::parse(template)
        .unwrap_or_else(|e| panic!("{template}: {e}"))
        .inspect(&container())
        .unwrap_or_else(|e| panic!("{template}: {e}"))
}

fn parse_error(template: &str) -> String {
    Template::parse(template).unwrap_err().to_string()
}

fn exec_error(template: &str) -> String {
    Template::parse(template)
        .unwrap()
        .inspect(&container())
        .unwrap_err()
        .to_string()
}

#[test]
fn fields_dot_and_text() {
    assert_eq!(
        render("id={{.Id}} {{.Config.Hostname}}"),
        "id=95cd4599c343 95cd"
    );
    assert_eq!(render("{{.Config.Cmd}}"), "[sleep 1000]");
    assert_eq!(render("{{.Config.Env}}"), "<no value>");
    assert_eq!(render("{{.HostConfig.Dns}}"), "[]");
    assert_eq!(render("{{.NetworkSettings.Ports}}"), "map[]");
    assert_eq!(
        render("{{with .Config}}{{.User}}|{{.Hostname}}{{end}}"),
        "|95cd"
    );
    assert_eq!(render("{{(index .Mounts 1).Name}}"), "v2");
}

#[test]
fn structs_print_in_field_order_and_maps_sorted() {
    // Docker: `{{.State}}` is `{running true false 19727 0 <nil>}` (its
    // Health is a nil pointer, which mini-docker's JSON leaves out).
    assert_eq!(render("{{.State}}"), "{running true false 19727 0}");
    assert_eq!(render("{{.Config.Labels}}"), "map[a:1 b:2]");
    assert_eq!(render("{{.Mounts}}"), "[{v1 /data} {v2 /x}]");
    assert_eq!(
        render("{{json .State}}"),
        r#"{"Status":"running","Running":true,"Paused":false,"Pid":19727,"ExitCode":0}"#
    );
    assert_eq!(render("{{json .Config.Labels}}"), r#"{"a":"1","b":"2"}"#);
    assert_eq!(render("{{json .HostConfig.LogConfig.Config}}"), "{}");
}

#[test]
fn missing_keys() {
    // A missing map key prints <no value>; a missing struct field makes
    // Docker retry on the raw JSON, where it is an error.
    assert_eq!(render("{{.Config.Labels.nope}}"), "<no value>");
    // Docker's nil pointers that JSON omits are nil, not missing fields.
    assert_eq!(
        render("{{.State.Health}} {{if .Config.Healthcheck}}hc{{else}}none{{end}}"),
        "<nil> none"
    );
    assert_eq!(
        exec_error("{{.State.Health.Status}}"),
        "template: :1:8: executing \"\" at <.State.Health.Status>: map has no entry for key \"Health\""
    );
    assert_eq!(
        exec_error("{{.Nope}}"),
        "template: :1:2: executing \"\" at <.Nope>: map has no entry for key \"Nope\""
    );
    assert_eq!(
        exec_error("{{.Config.Labels.nope}}|{{.Config.Nope}}"),
        "template: :1:9: executing \"\" at <.Config.Labels.nope>: map has no entry for key \"nope\""
    );
    let row = Val::typed(&json!({"Names": "web"}), "*formatter.ContainerContext");
    assert_eq!(
        Template::parse("{{.Nope}}").unwrap().execute(&row, Mode::Typed).unwrap_err().to_string(),
        "template: :1:2: executing \"\" at <.Nope>: can't evaluate field Nope in type *formatter.ContainerContext"
    );
}

#[test]
fn conditionals() {
    assert_eq!(
        render(
            r#"{{if eq .State.Status "exited" "running"}}yes{{else if .State.Paused}}p{{else}}no{{end}}"#
        ),
        "yes"
    );
    assert_eq!(
        render("{{if .State.Paused}}p{{else if .State.Running}}r{{end}}"),
        "r"
    );
    assert_eq!(render("{{if .Config.Env}}env{{else}}none{{end}}"), "none");
    assert_eq!(render("{{if .HostConfig.Dns}}dns{{end}}"), "");
    assert_eq!(
        render("{{if .State}}struct is true{{end}}"),
        "struct is true"
    );
    assert_eq!(
        render("{{with .Config.User}}u{{else}}nouser{{end}}"),
        "nouser"
    );
    assert_eq!(
        render("{{if and .State.Running (not .State.Paused)}}up{{end}}"),
        "up"
    );
    assert_eq!(
        render("{{or .Config.User \"root\"}} {{and 1 0 2}} {{or 0 \"\"}}"),
        "root 0 "
    );
}

#[test]
fn ranges_and_variables() {
    assert_eq!(
        render("{{range $i, $e := .Config.Cmd}}{{$i}}={{$e}};{{end}}"),
        "0=sleep;1=1000;"
    );
    assert_eq!(
        render("{{range $k, $v := .Config.Labels}}{{$k}}:{{$v}} {{end}}"),
        "a:1 b:2 "
    );
    assert_eq!(
        render("{{range .Mounts}}{{.Name}}@{{$.Name}},{{end}}"),
        "v1@/web,v2@/web,"
    );
    assert_eq!(
        render("{{range $m := .Mounts}}{{$m.Destination}}{{end}}"),
        "/data/x"
    );
    assert_eq!(
        render("{{range .HostConfig.Dns}}x{{else}}empty{{end}}"),
        "empty"
    );
    assert_eq!(render("{{range .Config.Env}}x{{else}}nil{{end}}"), "nil");
    assert_eq!(
        render("{{range $k, $v := .NetworkSettings.Networks}}{{$k}}={{$v.IPAddress}}{{end}}"),
        "bridge=172.17.0.2"
    );
    assert_eq!(
        render("{{$x := .Name}}{{$x}} {{$x = \"b\"}}{{$x}}"),
        "/web b"
    );
    assert_eq!(
        render("{{$n := 0}}{{range .Mounts}}{{$n = len $.Mounts}}{{end}}{{$n}}"),
        "2"
    );
    assert_eq!(
        render("{{with $c := .Config}}{{$c.Hostname}}{{end}}"),
        "95cd"
    );
}

#[test]
fn pipelines_and_parentheses() {
    assert_eq!(render("{{.Name | upper}}"), "/WEB");
    assert_eq!(
        render("{{join .Config.Cmd \",\" | printf \"%q\"}}"),
        "\"sleep,1000\""
    );
    assert_eq!(
        render("{{printf \"%s-%s\" (index .Config.Cmd 0) (upper .Id)}}"),
        "sleep-95CD4599C343"
    );
    assert_eq!(render("{{len (split \"a,b,c\" \",\")}}"), "3");
}

#[test]
fn trim_markers_and_comments() {
    assert_eq!(render("a  {{- .Name -}}  \n b"), "a/webb");
    assert_eq!(render("a {{/* a comment */}}b"), "a b");
    assert_eq!(render("a {{- /* trimmed */ -}} b"), "ab");
    assert_eq!(render("{{-3}} {{ -3 }}"), "-3 -3");
}

#[test]
fn literals() {
    assert_eq!(
        render(r#"{{"a\tb"}}|{{`raw\n`}}|{{1.5}}|{{0x1F}}|{{'a'}}|{{true}}|{{1e3}}"#),
        "a\tb|raw\\n|1.5|31|97|true|1000"
    );
    assert_eq!(render("{{print nil}}"), "<nil>");
    assert_eq!(render("{{.Size}}"), "1.986e+06");
}

#[test]
fn go_functions() {
    assert_eq!(
        render("{{len .Config.Cmd}} {{len .Name}} {{len .Config.Labels}}"),
        "2 4 2"
    );
    assert_eq!(
        render(
            r#"{{index .Config.Cmd 1}} {{index .Config.Labels "a"}} {{index .Config.Labels "zz"}}|"#
        ),
        "1000 1 |"
    );
    assert_eq!(
        render(r#"{{slice "abcdef" 1 3}} {{slice .Config.Cmd 1}}"#),
        "bc [1000]"
    );
    assert_eq!(render(r#"{{print 1 2 "a" "b" 3}}"#), "1 2ab3");
    assert_eq!(render(r#"{{println "x" 1}}"#), "x 1\n");
    assert_eq!(
        render(r#"{{eq 1 1}} {{ne "a" "b"}} {{lt 1 2}} {{le 2 2}} {{gt "b" "a"}} {{ge 1.5 2.5}}"#),
        "true true true true true false"
    );
    assert_eq!(render("{{not .State.Running}} {{not \"\"}}"), "false true");
}

#[test]
fn printf_verbs() {
    assert_eq!(
        render(
            r#"{{printf "%q %5s|%-6s|%x %d %v %t %.2f %03d" .Name "ab" "cd" "hi" 42 .Config.Cmd true 3.14159 7}}"#
        ),
        r#""/web"    ab|cd    |6869 42 [sleep 1000] true 3.14 007"#
    );
    assert_eq!(
        render(r#"{{printf "%T %T %T %T" .State.Pid .State.Running .Name 1.5}}"#),
        "int bool string float64"
    );
    assert_eq!(
        render(r#"{{printf "%d" "x"}} {{printf "%s"}} {{printf "a" 1}}"#),
        "%!d(string=x) %!s(MISSING) a%!(EXTRA int=1)"
    );
    assert_eq!(
        render(r#"{{printf "%5.1f|%-4d|%+d|%X|%#x|%%|%c|%e" 3.14159 7 3 255 255 65 1234.5}}"#),
        "  3.1|7   |+3|FF|0xff|%|A|1.234500e+03"
    );
}

#[test]
fn docker_functions() {
    assert_eq!(
        render(
            r#"{{join .Config.Cmd ","}} {{split "a,b" ","}} {{upper "ab"}} {{lower "AB"}} {{title "hello world"}} {{truncate "abcdef" 3}} {{truncate "ab" 3}} {{pad "x" 1 2}}|"#
        ),
        "sleep,1000 [a b] AB ab Hello World abc ab  x  |"
    );
    assert_eq!(
        render(
            r#"{{json .Name}} {{json 3}} {{json nil}} {{json .HostConfig.Dns}} {{json "<a&b>"}}"#
        ),
        r#""/web" 3 null [] "<a&b>""#
    );
}

#[test]
fn header_mode_passes_names_through() {
    let header = Val::map(vec![("Names".into(), Val::Str("NAMES".into()))]);
    let t = Template::parse(r#"{{json .Names}} {{upper .Names}} {{truncate .Names 2}} {{.Label "com.x.my_key"}}|{{pad .Names 1 1}}|"#).unwrap();
    // Docker 20.10: `pad` pads headers too.
    assert_eq!(
        t.execute(&header, Mode::Header).unwrap(),
        "NAMES NAMES NAMES my key| NAMES |"
    );
}

#[test]
fn parse_errors_are_gos() {
    assert_eq!(parse_error("{{.Name"), "template: :1: unclosed action");
    assert_eq!(parse_error("{{if}}"), "template: :1: missing value for if");
    assert_eq!(
        parse_error("{{foo 1}}"),
        "template: :1: function \"foo\" not defined"
    );
    assert_eq!(parse_error("{{end}}"), "template: :1: unexpected {{end}}");
    assert_eq!(parse_error("{{else}}"), "template: :1: unexpected {{else}}");
    assert_eq!(parse_error("{{if .A}}x"), "template: :1: unexpected EOF");
    assert_eq!(
        parse_error("{{range .A}}\n{{else}}\n{{else}}{{end}}"),
        "template: :3: expected end; found {{else}}"
    );
    assert_eq!(
        parse_error("{{$x}}"),
        "template: :1: undefined variable \"$x\""
    );
    assert_eq!(
        parse_error("{{$x = 1}}"),
        "template: :1: undefined variable \"$x\""
    );
    assert_eq!(
        parse_error("{{\"abc}}"),
        "template: :1: unterminated quoted string"
    );
    assert_eq!(
        parse_error("{{`abc}}"),
        "template: :1: unterminated raw quoted string"
    );
    assert_eq!(parse_error("{{/* abc }}"), "template: :1: unclosed comment");
    assert_eq!(
        parse_error("{{#}}"),
        "template: :1: bad character U+0023 '#'"
    );
    assert_eq!(parse_error("{{(.A}}"), "template: :1: unclosed left paren");
    assert_eq!(
        parse_error("{{.A)}}"),
        "template: :1: unexpected right paren U+0029 ')'"
    );
    assert_eq!(
        parse_error("{{}}"),
        "template: :1: missing value for command"
    );
    assert_eq!(parse_error("{{nil}}"), "template: :1: nil is not a command");
    assert_eq!(
        parse_error("{{.A | 3}}"),
        "template: :1: non executable command in pipeline stage 2"
    );
    assert_eq!(parse_error("a\n\n{{.A"), "template: :3: unclosed action");
    // A variable declared inside a block is gone after its end.
    assert_eq!(
        parse_error("{{if 1}}{{$y := 2}}{{end}}{{$y}}"),
        "template: :1: undefined variable \"$y\""
    );
}

#[test]
fn exec_errors_are_gos() {
    assert_eq!(
        exec_error("{{index .Config.Cmd 5}}"),
        "template: :1:2: executing \"\" at <index .Config.Cmd 5>: error calling index: index out of range: 5"
    );
    assert_eq!(
        exec_error("{{len 3}}"),
        "template: :1:2: executing \"\" at <len 3>: error calling len: len of type int"
    );
    assert_eq!(
        exec_error("{{eq .Name 1}}"),
        "template: :1:2: executing \"\" at <eq .Name 1>: error calling eq: incompatible types for comparison"
    );
    assert_eq!(
        exec_error("{{len}}"),
        "template: :1:2: executing \"\" at <len>: wrong number of args for len: want 1 got 0"
    );
    assert_eq!(
        exec_error("{{range .Name}}{{end}}"),
        "template: :1:8: executing \"\" at <.Name>: range can't iterate over /web"
    );
    // Docker: fields of a missing key are missing too, `%s` of it `%!s(<nil>)`.
    assert_eq!(
        render("\n  {{printf \"%s\" .Config.Labels.nope.deeper.still}}"),
        "\n  %!s(<nil>)"
    );
    assert_eq!(
        exec_error("\n {{.Config.Nope}}"),
        "template: :2:10: executing \"\" at <.Config.Nope>: map has no entry for key \"Nope\""
    );
    assert_eq!(
        exec_error("{{slice \"abc\" 2 1}}"),
        "template: :1:2: executing \"\" at <slice \"abc\" 2 1>: error calling slice: invalid slice index: 2 > 1"
    );
    assert_eq!(
        exec_error("{{\"a\" | .Name}}"),
        "template: :1:8: executing \"\" at <.Name>: Name is not a method but has arguments"
    );
}

#[test]
fn break_continue_define_template_block() {
    assert_eq!(
        render("{{range .Config.Cmd}}{{.}}{{break}}{{end}}"),
        "sleep"
    );
    assert_eq!(
        render("{{range $i, $e := .Config.Cmd}}{{if eq $i 0}}{{continue}}{{end}}{{$e}}{{end}}"),
        "1000"
    );
    assert_eq!(
        render("{{range .Config.Cmd}}{{if true}}{{break}}{{end}}x{{end}}y"),
        "y"
    );
    assert_eq!(
        render(r#"{{define "x"}}X{{.}}{{end}}{{template "x" .Name}}|{{template "x"}}"#),
        "X/web|X<no value>"
    );
    assert_eq!(
        render(r#"{{block "b" .Config.Cmd}}[{{len .}}]{{end}}"#),
        "[2]"
    );
    assert_eq!(
        parse_error("{{break}}"),
        "template: :1: {{break}} outside {{range}}"
    );
    assert_eq!(
        parse_error(r#"{{define "x"}}{{$y}}{{end}}"#),
        "template: :1: undefined variable \"$y\""
    );
    assert_eq!(
        parse_error("{{else with .Name}}"),
        "template: :1: unexpected <with> in else"
    );
    assert_eq!(
        exec_error(r#"{{template "nope"}}"#),
        "template: :1:11: executing \"\" at <{{template \"nope\"}}>: template \"nope\" not defined"
    );
}

#[test]
fn and_or_stop_at_the_deciding_argument() {
    // Docker 20.10's Go: the failing `index` is never evaluated.
    assert_eq!(
        render("{{and 0 (index .Config.Cmd 9)}} {{or 1 (index .Config.Cmd 9)}}"),
        "0 1"
    );
}

#[test]
fn html_js_urlquery() {
    assert_eq!(
        render(r#"{{html "<a href='x'>&"}} {{urlquery "a b&c"}} {{js "a\"b<"}}"#),
        "&lt;a href=&#39;x&#39;&gt;&amp; a+b%26c a\\\"b\\u003C"
    );
}

#[test]
fn argument_types_are_checked_as_go_does() {
    // Docker 20.10's words: a literal is "found", a value "got".
    assert_eq!(
        exec_error("{{truncate .Name \"x\"}}"),
        "template: :1:17: executing \"\" at <\"x\">: expected integer; found \"x\""
    );
    assert_eq!(
        exec_error("{{truncate .Config.Cmd 3}}"),
        "template: :1:18: executing \"\" at <.Config.Cmd>: wrong type for value; expected string; got []interface {}"
    );
    assert_eq!(
        exec_error("{{index .Config.Cmd 0 | truncate 3}}"),
        "template: :1:33: executing \"\" at <3>: expected string; found 3"
    );
}

#[test]
fn the_typed_run_wins_when_it_succeeds() {
    // Numbers stay ints in the typed run; the raw fallback would see floats.
    assert_eq!(render("{{.State.Pid}}"), "19727");
    let raw = Template::parse("{{.State.Pid}} {{.State}}").unwrap();
    assert_eq!(
        raw.execute(&Val::raw(&container()), Mode::Raw).unwrap(),
        "19727 map[ExitCode:0 Paused:false Pid:19727 Running:true Status:running]"
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    /// Arbitrary text never panics the lexer or the parser.
    #[test]
    fn parsing_never_panics(s in "\\PC*") {
        let _ = Template::parse(&s);
    }

    /// Nor does text built from the language's own pieces, parsed and run.
    #[test]
    fn template_like_text_never_panics(parts in proptest::collection::vec(prop_oneof![
        Just("{{"), Just("}}"), Just("{{-"), Just("-}}"), Just(" "), Just("."), Just(".Name"),
        Just(".Config.Cmd"), Just("$"), Just("$x"), Just(":="), Just("="), Just(","), Just("|"),
        Just("("), Just(")"), Just("if"), Just("else"), Just("end"), Just("range"), Just("with"),
        Just("index"), Just("printf"), Just("\"%d\""), Just("`r`"), Just("1"), Just("-2.5"),
        Just("'c'"), Just("nil"), Just("true"), Just("/*"), Just("*/"), Just("json"), Just("len"),
        Just("slice"), Just("\n"), Just("é"), Just("\""), Just("break"), Just("continue"),
        Just("define"), Just("template"), Just("block"), Just("\"x\""), Just("and"), Just("or"),
    ], 0..40)) {
        let text: String = parts.concat();
        if let Ok(t) = Template::parse(&text) {
            let _ = t.inspect(&container());
        }
    }
}
