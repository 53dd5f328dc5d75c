//! `--format` templates, `table` output and `--filter` on real containers,
//! images, networks and volumes. Every expected output below is what
//! Docker 20.10 printed for the same objects and the same command line
//! (compared by hand against a private dockerd; IDs and times excepted).

mod support;

use support::*;
use testkit::TestEnv;

/// web (running, label a=b), c2 (created), ex (exited 3); a network (on
/// `subnet`: the default pools may all be taken on a busy host) and a
/// volume labelled k=v.
fn fixture(name: &str, subnet: &str) -> TestEnv {
    let env = with_busybox(name, &[]);
    ok(
        &env,
        &[
            "run", "-d", "--name", "web", "-l", "a=b", "busybox", "sleep", "1000",
        ],
    );
    ok(&env, &["create", "--name", "c2", "busybox", "true"]);
    fails(
        &env,
        &["run", "--name", "ex", "busybox", "sh", "-c", "exit 3"],
        3,
    );
    ok(
        &env,
        &[
            "network", "create", "--subnet", subnet, "--label", "k=v", "net1",
        ],
    );
    ok(&env, &["volume", "create", "--label", "k=v", "vol1"]);
    env
}

fn cleanup(mut env: TestEnv) {
    ok(&env, &["rm", "-f", "web", "c2", "ex"]);
    ok(&env, &["network", "rm", "net1"]);
    ok(&env, &["volume", "rm", "vol1"]);
    assert_settled(&mut env);
}

fn listing_templates_tables_and_filters_match_docker() {
    let env = fixture("md-formats-list", "10.93.77.0/24");
    // ps: fields, the Label method, tables with Docker's headers and
    // tabwriter padding (an empty last cell keeps the padding before it).
    assert_eq!(
        ok(
            &env,
            &[
                "ps",
                "--format",
                "{{.Names}} {{.Image}} {{.Command}} {{.Labels}} {{.State}}"
            ]
        ),
        "web busybox \"sleep 1000\" a=b running\n"
    );
    assert_eq!(
        ok(&env, &["ps", "-a", "--format", "{{.Names}}|{{.State}}|{{.Label \"a\"}}|{{.Networks}}|{{.Mounts}}|{{.LocalVolumes}}"]),
        "ex|exited||bridge||0\nc2|created||bridge||0\nweb|running|b|bridge||0\n"
    );
    assert_eq!(
        ok(
            &env,
            &[
                "ps",
                "--format",
                "table {{.Names}}\\t{{.Image}}\\t{{.Command}}\\t{{.State}}"
            ]
        ),
        "NAMES     IMAGE     COMMAND        STATE\nweb       busybox   \"sleep 1000\"   running\n"
    );
    assert_eq!(
        ok(
            &env,
            &["ps", "-a", "--format", "table {{.Names}}\\t{{.Ports}}"]
        ),
        "NAMES     PORTS\nex        \nc2        \nweb       \n"
    );
    // Filters, each as Docker selects.
    let names = |filters: &[&str]| {
        let mut args = vec!["ps", "--format", "{{.Names}}"];
        args.extend_from_slice(filters);
        ok(&env, &args)
            .lines()
            .map(str::to_string)
            .collect::<Vec<_>>()
            .join(",")
    };
    // COMMAND: arguments with spaces in single quotes, cut at 20, Go-quoted.
    ok(
        &env,
        &[
            "create",
            "--name",
            "cmd",
            "busybox",
            "sh",
            "-c",
            "echo a long command line here",
        ],
    );
    let command = |extra: &[&str]| {
        let mut args = vec![
            "ps",
            "-a",
            "--filter",
            "name=cmd",
            "--format",
            "{{.Command}}",
        ];
        args.extend_from_slice(extra);
        ok(&env, &args)
    };
    assert_eq!(command(&[]), "\"sh -c 'echo a long …\"\n");
    assert_eq!(
        command(&["--no-trunc"]),
        "\"sh -c 'echo a long command line here'\"\n"
    );
    ok(&env, &["rm", "cmd"]);
    // Size without --size: Docker's "0B (virtual <image size>)".
    let image_size = ok(&env, &["images", "--format", "{{.Size}}"]);
    assert_eq!(
        ok(&env, &["ps", "--format", "{{.Size}}"]),
        format!("0B (virtual {})\n", image_size.trim())
    );
    assert_eq!(names(&["-a", "--filter", "status=exited"]), "ex");
    assert_eq!(
        names(&["--filter", "exited=3"]),
        "",
        "exited= alone keeps to running containers"
    );
    assert_eq!(names(&["-a", "--filter", "exited=3"]), "ex");
    assert_eq!(names(&["-a", "--filter", "name=we"]), "web");
    assert_eq!(names(&["-a", "--filter", "label=a=b"]), "web");
    assert_eq!(names(&["-a", "--filter", "ancestor=busybox"]), "ex,c2,web");
    assert_eq!(names(&["-a", "--filter", "before=ex"]), "c2,web");
    assert_eq!(names(&["-a", "--filter", "since=web"]), "ex,c2");
    assert_eq!(names(&["-a", "--filter", "network=bridge"]), "ex,c2,web");
    assert_eq!(names(&["-a", "--filter", "health=none"]), "ex,c2,web");
    assert_eq!(
        names(&["-a", "--filter", "name=web", "--filter", "name=c2"]),
        "c2,web"
    );
    // Docker's errors and exit codes.
    assert_eq!(
        fails(&env, &["ps", "--filter", "status=bogus"], 1),
        "Error response from daemon: Invalid filter 'status=bogus'\n"
    );
    assert_eq!(
        fails(&env, &["ps", "--filter", "nope=1"], 1),
        "Error response from daemon: Invalid filter 'nope'\n"
    );
    assert_eq!(
        fails(&env, &["ps", "--filter", "nope"], 125),
        "invalid argument \"nope\" for \"-f, --filter\" flag: bad format of filter (expected name=value)\n"
    );
    assert_eq!(
        fails(&env, &["ps", "--format", "{{.Nope}}"], 1),
        "failed to execute template: template: :1:2: executing \"\" at <.Nope>: can't evaluate field Nope in type *formatter.ContainerContext\n"
    );
    assert_eq!(
        fails(&env, &["ps", "--format", "{{.Names"], 1),
        "failed to parse template: template: :1: unclosed action\n"
    );

    // images: positional REPOSITORY[:TAG] (globs too), filters, errors.
    assert_eq!(
        ok(
            &env,
            &[
                "images",
                "--format",
                "{{.Repository}}:{{.Tag}} {{.Digest}} {{.Containers}}"
            ]
        ),
        "busybox:latest <none> N/A\n"
    );
    assert_eq!(
        ok(
            &env,
            &[
                "images",
                "--format",
                "table {{.Repository}}\\t{{.Tag}}\\t{{.Containers}}"
            ]
        ),
        "REPOSITORY   TAG       CONTAINERS\nbusybox      latest    N/A\n"
    );
    assert_eq!(
        ok(&env, &["images", "busybox", "--format", "{{.Repository}}"]),
        "busybox\n"
    );
    assert_eq!(
        ok(&env, &["images", "busy*", "--format", "{{.Repository}}"]),
        "busybox\n"
    );
    assert_eq!(
        ok(&env, &["images", "nothere", "--format", "{{.Repository}}"]),
        ""
    );
    assert_eq!(
        ok(
            &env,
            &[
                "images",
                "--filter",
                "dangling=false",
                "--format",
                "{{.Tag}}"
            ]
        ),
        "latest\n"
    );
    assert_eq!(
        fails(&env, &["images", "--filter", "dangling=maybe"], 1),
        "Error response from daemon: Invalid filter 'dangling=[maybe]'\n"
    );
    assert_eq!(
        fails(&env, &["images", "--format", "{{.Nope}}"], 1),
        "template parsing error: template: :1:2: executing \"\" at <.Nope>: can't evaluate field Nope in type *formatter.imageContext\n"
    );
    assert_eq!(
        fails(&env, &["images", "--format", "{{.Names"], 1),
        "template parsing error: template: :1: unclosed action\n"
    );
    assert_eq!(
        ok(
            &env,
            &[
                "history",
                "--format",
                "{{.CreatedBy}}|{{.Comment}}",
                "busybox"
            ]
        )
        .split('|')
        .next(),
        Some("")
    );
    assert_eq!(
        fails(&env, &["history", "--format", "{{.Nope}}", "busybox"], 1),
        "template parsing error: template: :1:2: executing \"\" at <.Nope>: can't evaluate field Nope in type *image.historyContext\n"
    );

    // network ls and volume ls.
    assert_eq!(
        ok(&env, &["network", "ls", "--filter", "name=net1", "--format",
            "{{.Name}} {{.Driver}} {{.Scope}} {{.IPv6}} {{.Internal}} {{.Labels}} {{.Label \"k\"}}"]),
        "net1 bridge local false false k=v v\n"
    );
    assert_eq!(
        ok(
            &env,
            &[
                "network",
                "ls",
                "--filter",
                "type=custom",
                "--format",
                "{{.Name}}"
            ]
        ),
        "net1\n"
    );
    assert_eq!(
        ok(
            &env,
            &[
                "network",
                "ls",
                "--filter",
                "driver=bridge",
                "--filter",
                "label=k",
                "--format",
                "table {{.Name}}\\t{{.Driver}}"
            ]
        ),
        "NAME      DRIVER\nnet1      bridge\n"
    );
    assert_eq!(
        fails(&env, &["network", "ls", "--filter", "type=bad"], 1),
        "Error response from daemon: invalid filter: 'type'='bad'\n"
    );
    assert_eq!(
        fails(&env, &["network", "ls", "--format", "{{.Nope}}"], 1),
        "template parsing error: template: :1:2: executing \"\" at <.Nope>: can't evaluate field Nope in type *network.networkContext\n"
    );
    assert_eq!(
        ok(&env, &["volume", "ls", "--format", "{{.Name}} {{.Driver}} {{.Scope}} {{.Labels}} {{.Links}} {{.Size}} {{.Label \"k\"}}"]),
        "vol1 local local k=v N/A N/A v\n"
    );
    assert_eq!(
        ok(
            &env,
            &[
                "volume",
                "ls",
                "--format",
                "table {{.Name}}\\t{{.Driver}}\\t{{.Label \"k\"}}"
            ]
        ),
        "VOLUME NAME   DRIVER    k\nvol1          local     v\n"
    );
    assert_eq!(
        ok(&env, &["volume", "ls", "--filter", "dangling=true", "-q"]),
        "vol1\n"
    );
    assert_eq!(
        ok(
            &env,
            &[
                "volume",
                "ls",
                "--filter",
                "driver=local",
                "--filter",
                "name=vol",
                "--format",
                "{{.Name}}"
            ]
        ),
        "vol1\n"
    );
    assert_eq!(
        fails(&env, &["volume", "ls", "--filter", "nope=1"], 1),
        "Error response from daemon: Invalid filter 'nope'\n"
    );
    assert_eq!(
        fails(&env, &["volume", "ls", "--format", "{{.Nope}}"], 1),
        "template parsing error: template: :1:2: executing \"\" at <.Nope>: can't evaluate field Nope in type *formatter.volumeContext\n"
    );
    cleanup(env);
}

fn inspect_templates_match_docker() {
    let env = fixture("md-formats-inspect", "10.93.78.0/24");
    let f = |format: &str, name: &str| ok(&env, &["inspect", "-f", format, name]);
    assert_eq!(
        f("{{.Name}} {{.State.Status}} {{.State.Running}} {{.Config.Cmd}} {{json .Config.Cmd}} {{.Config.Labels}} {{json .Config.Labels}}", "web"),
        "/web running true [sleep 1000] [\"sleep\",\"1000\"] map[a:b] {\"a\":\"b\"}\n"
    );
    assert_eq!(f("{{.Config.Labels.nope}}", "web"), "<no value>\n");
    assert_eq!(
        f("{{if eq .State.Status \"running\" \"x\"}}yes{{else if .State.Paused}}p{{else}}no{{end}} {{range $i, $e := .Config.Cmd}}{{$i}}={{$e}};{{end}} {{range $k, $v := .Config.Labels}}{{$k}}:{{$v}}{{end}} {{with .Config.User}}u{{else}}nouser{{end}}", "web"),
        "yes 0=sleep;1=1000; a:b nouser\n"
    );
    assert_eq!(
        f("{{printf \"%q %5s|%-6s|%x %d %v %t %.2f %03d\" .Name \"ab\" \"cd\" \"hi\" 42 .Config.Cmd true 3.14159 7}}", "web"),
        "\"/web\"    ab|cd    |6869 42 [sleep 1000] true 3.14 007\n"
    );
    assert_eq!(
        f("{{join .Config.Cmd \",\"}} {{split \"a,b\" \",\"}} {{upper \"ab\"}} {{lower \"AB\"}} {{title \"hello world\"}} {{truncate \"abcdef\" 3}} {{pad \"x\" 1 2}}|", "web"),
        "sleep,1000 [a b] AB ab Hello World abc  x  |\n"
    );
    assert_eq!(
        f("{{len .Config.Cmd}} {{index .Config.Cmd 1}} {{index .Config.Labels \"a\"}} {{slice \"abcdef\" 1 3}} {{print 1 2 \"a\" \"b\" 3}} {{println \"x\"}}", "web"),
        "2 1000 b bc 1 2ab3 x\n\n"
    );
    // Fields in Docker's order, in `json .` and the plain output.
    let json: serde_json::Value = serde_json::from_str(&f("{{json .}}", "web")).unwrap();
    let keys: Vec<&str> = json
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        keys[..6],
        ["Id", "Created", "Path", "Args", "State", "Image"],
        "{keys:?}"
    );
    // inspect does not turn `\t` into a tab (the listings do).
    assert!(f("{{.Name}}\\t{{.Id}}\\n", "web").starts_with("/web\\t"));
    assert_eq!(f("{{- .Name -}} {{/* c */}} x", "web"), "/web x\n");
    assert_eq!(
        f(
            "{{.State.ExitCode}} {{.RestartCount}} {{.HostConfig.Privileged}}",
            "ex"
        ),
        "3 0 false\n"
    );
    // Networks and volumes by plain `inspect`, and their own commands.
    assert_eq!(
        f("{{.Name}} {{.Driver}} {{.Labels}} {{.Scope}}", "net1"),
        "net1 bridge map[k:v] local\n"
    );
    assert_eq!(
        f("{{.Name}} {{.Driver}} {{.Labels}} {{.Scope}}", "vol1"),
        "vol1 local map[k:v] local\n"
    );
    // A network's missing field fails as Docker's does (its struct has none).
    assert_eq!(
        fails(&env, &["network", "inspect", "-f", "{{.Name}} {{json .Labels}} {{.Nope}}", "net1"], 1),
        "template parsing error: template: :1:29: executing \"\" at <.Nope>: map has no entry for key \"Nope\"\n"
    );
    assert_eq!(
        ok(
            &env,
            &[
                "volume",
                "inspect",
                "-f",
                "{{.Name}} {{.Labels.k}} {{.Mountpoint | len | printf \"%T\"}}",
                "vol1"
            ]
        ),
        "vol1 v int\n"
    );
    assert_eq!(
        ok(
            &env,
            &[
                "image",
                "inspect",
                "-f",
                "{{.RepoTags}} {{.Config.Cmd}} {{.Os}}",
                "busybox"
            ]
        ),
        "[busybox:latest] [sh] linux\n"
    );
    // Docker's errors: a bad template exits 64 before anything is looked
    // up; a failing one prints an empty line and exits 1.
    let out = md_in(&env, "root", &["inspect", "-f", "{{.Nope}}", "web"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "\n");
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "template parsing error: template: :1:2: executing \"\" at <.Nope>: map has no entry for key \"Nope\"\n"
    );
    assert_eq!(
        fails(&env, &["inspect", "-f", "{{.Name", "web"], 64),
        "template parsing error: template: :1: unclosed action\n"
    );
    assert_eq!(
        fails(&env, &["inspect", "-f", "{{foo 1}}", "web"], 64),
        "template parsing error: template: :1: function \"foo\" not defined\n"
    );
    assert_eq!(
        fails(&env, &["inspect", "-f", "{{index .Config.Cmd 5}}", "web"], 1),
        "template parsing error: template: :1:2: executing \"\" at <index .Config.Cmd 5>: error calling index: index out of range: 5\n"
    );
    cleanup(env);
}

testkit::main![
    listing_templates_tables_and_filters_match_docker,
    inspect_templates_match_docker,
];
