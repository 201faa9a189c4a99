//! Tests of the Dockerfile parser.

use super::*;
use proptest::prelude::*;

/// One line per FROM and per instruction: `L<line> <KEYWORD> <text>`.
fn outline(df: &Dockerfile) -> Vec<String> {
    let mut lines = Vec::new();
    for stage in &df.stages {
        lines.push(format!("L{} FROM {}", stage.from_line, stage.base));
        for i in &stage.instructions {
            lines.push(format!("L{} {} {}", i.line, i.keyword, i.text).trim_end().to_string());
        }
    }
    lines
}

#[test]
fn instructions_lines_and_text() {
    let cases: [(&str, &str, &[&str]); 8] = [
        (
            "continuations, comments and blank lines",
            "# leading comment\nFROM alpine:3.19\n\nRUN apk add \\\n    curl \\\n# comment inside\n\\\n    git\nrun echo done\n",
            &["L2 FROM alpine:3.19", "L4 RUN apk add     curl     git", "L9 RUN echo done"],
        ),
        (
            "CRLF line ends and trailing blanks after the escape",
            "FROM alpine\r\nRUN a \\  \r\n  b\r\nCMD x\r\n",
            &["L1 FROM alpine", "L2 RUN a   b", "L4 CMD x"],
        ),
        (
            "a line holding only the escape character is no instruction",
            "FROM alpine\nCMD x\n\\\n",
            &["L1 FROM alpine", "L2 CMD x"],
        ),
        (
            "escape directive",
            "# syntax=docker/dockerfile:1\n# escape=`\nFROM servercore\nRUN dir C:\\ `\n    && echo hi\nCOPY a\\b c\\\n",
            &["L3 FROM servercore", "L4 RUN dir C:\\     && echo hi", "L6 COPY a\\b c\\"],
        ),
        (
            "a directive after a comment is a comment",
            "# hello\n# escape=`\nFROM x\nRUN a `\nb\n",
            &["L3 FROM x", "L4 RUN a `", "L5 B"],
        ),
        (
            "heredoc bodies are skipped, even when they look like instructions",
            "FROM debian\nRUN <<EOF\napt-get update\nFROM evil\nEOF\nRUN <<-\"END\" bash\n\techo hi\n\tEND\nCOPY <<A <<B /dst/\na\nA\nb\nB\nCMD [\"x\"]\n",
            &[
                "L1 FROM debian",
                "L2 RUN <<EOF\napt-get update\nFROM evil\nEOF",
                "L6 RUN <<-\"END\" bash\n\techo hi\n\tEND",
                "L9 COPY <<A <<B /dst/\na\nA\nb\nB",
                "L14 CMD [\"x\"]",
            ],
        ),
        (
            "no heredoc in quotes, shifts or here-strings",
            "FROM a\nRUN echo \"<<EOF\" && echo $((1<<2)) && cat <<<word\nRUN true\n",
            &["L1 FROM a", "L2 RUN echo \"<<EOF\" && echo $((1<<2)) && cat <<<word", "L3 RUN true"],
        ),
        (
            "keywords in any case; unknown instructions kept",
            "from golang AS Build\nRuN go build\nFROOM x\nfrom alpine\ncopy --from=build /a /b\n",
            &[
                "L1 FROM golang",
                "L2 RUN go build",
                "L3 FROOM x",
                "L4 FROM alpine",
                "L5 COPY --from=build /a /b",
            ],
        ),
    ];
    for (name, text, expected) in cases {
        let df = parse_dockerfile(text).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(outline(&df), expected, "{name}");
    }
}

#[test]
fn from_lines_and_global_args() {
    let df = parse_dockerfile(
        "ARG A=1 B\nARG C=\"x y\"\nFROM --platform=$BUILDPLATFORM golang:1.22 AS Build\n\
         FROM --platform linux/arm64 alpine\nFROM ${IMG:-debian} as Final\n\
         FROM --platform=${TARGETPLATFORM} build\n",
    )
    .unwrap();
    assert_eq!(
        df.global_args,
        [
            ("A".to_string(), Some("1".to_string())),
            ("B".to_string(), None),
            ("C".to_string(), Some("\"x y\"".to_string())),
        ]
    );
    type Summary<'a> = (usize, Option<&'a str>, u32, &'a str, Option<&'a str>);
    let got: Vec<Summary> = df
        .stages
        .iter()
        .map(|s| {
            (s.index, s.name.as_deref(), s.from_line, s.base.as_str(), s.platform_flag.as_deref())
        })
        .collect();
    assert_eq!(
        got,
        [
            (0, Some("build"), 3, "golang:1.22", Some("$BUILDPLATFORM")),
            (1, None, 4, "alpine", Some("linux/arm64")),
            (2, Some("final"), 5, "${IMG:-debian}", None),
            (3, None, 6, "build", Some("${TARGETPLATFORM}")),
        ]
    );
    assert_eq!(df.escape, '\\');
}

#[test]
fn instruction_flags() {
    let df = parse_dockerfile(
        "FROM a\nCOPY --link --from=Build --chown=1:1 /x /y\n\
         RUN --mount=type=bind,from=tools,source=/t,target=/t --mount=type=cache,target=/c make\n\
         ADD --from=x y z\n",
    )
    .unwrap();
    let [copy, run, add] = &df.stages[0].instructions[..] else { panic!("three instructions") };
    assert_eq!(copy.copy_from().as_deref(), Some("Build"));
    assert_eq!(copy.args(), "/x /y");
    assert_eq!(run.mount_sources(), ["tools"]);
    assert_eq!(run.args(), "make");
    assert_eq!(run.copy_from(), None);
    assert_eq!(add.copy_from(), None);
}

#[test]
fn errors_name_the_line() {
    let cases: [(&str, DockerfileError); 12] = [
        ("", DockerfileError::NoFrom),
        ("# only a comment\nARG A=1\n", DockerfileError::NoFrom),
        ("FROM\n", DockerfileError::FromWithoutImage { line: 1 }),
        ("FROM a\n\nFROM --platform=linux/amd64\n", DockerfileError::FromWithoutImage { line: 3 }),
        ("FROM a b\n", DockerfileError::BadFrom { line: 1, text: "a b".into() }),
        ("FROM a AS\n", DockerfileError::BadFrom { line: 1, text: "a AS".into() }),
        (
            "FROM --platform= a\n",
            DockerfileError::BadFrom { line: 1, text: "--platform= a".into() },
        ),
        ("ARG A\nRUN x\nFROM a\n", DockerfileError::BeforeFrom { line: 2, keyword: "RUN".into() }),
        (
            "FROM a AS x\nFROM b AS X\n",
            DockerfileError::DuplicateStage { line: 2, name: "x".into() },
        ),
        (
            "FROM a\nRUN <<EOF\nx\nEOFX\n",
            DockerfileError::UnterminatedHeredoc { line: 2, delimiter: "EOF".into() },
        ),
        ("# escape=x\nFROM a\n", DockerfileError::BadEscape { line: 1, value: "x".into() }),
        ("ARG =1\nFROM a\n", DockerfileError::ArgWithoutName { line: 1 }),
    ];
    for (text, expected) in cases {
        assert_eq!(parse_dockerfile(text), Err(expected), "{text:?}");
    }
    let message = parse_dockerfile("FROM a\nFROM\n").unwrap_err().to_string();
    assert!(message.starts_with("Dockerfile line 2: FROM needs an image"), "{message}");
}

#[test]
fn unknown_instructions_are_tolerated() {
    let df = parse_dockerfile("FOO bar\nFROM a\nFROOM x\n").unwrap();
    assert_eq!(df.stages.len(), 1);
    assert_eq!(df.stages[0].instructions[0].keyword, "FROOM");
}

fn dockerfile_like() -> impl Strategy<Value = String> {
    let fragment = prop::sample::select(vec![
        "FROM ",
        "from ",
        "--platform=",
        "$BUILDPLATFORM",
        "${TARGETPLATFORM}",
        "${A:-x}",
        "${",
        "}",
        "$",
        "AS ",
        "as ",
        "b",
        "ARG ",
        "A=1 ",
        "RUN ",
        "COPY ",
        "--from=",
        "--mount=type=bind,from=",
        "0",
        "<<EOF",
        "<<-'E'",
        "EOF",
        "\tE",
        "\\",
        "`",
        "#",
        "# escape=`",
        "\"",
        "'",
        " ",
        "\n",
        "\r\n",
        "scratch",
        "alpine",
        ":",
        "/",
        "é",
        "\u{feff}",
    ]);
    prop::collection::vec(fragment, 0..60).prop_map(|parts| parts.concat())
}

proptest! {
    #[test]
    fn parse_never_panics_on_any_text(text in any::<String>()) {
        let _ = parse_dockerfile(&text);
    }

    #[test]
    fn parse_resolve_and_lint_never_panic(text in dockerfile_like()) {
        if let Ok(df) = parse_dockerfile(&text) {
            let platforms = crate::platform::Platform::parse_list("linux/amd64,linux/arm64").unwrap();
            let args = std::collections::HashMap::from([("A".to_string(), String::new())]);
            for target in [None, Some("b")] {
                if let Ok(stages) = super::super::resolve(&df, &args, target) {
                    let _ = super::super::lint(&df, &stages, &platforms[1..], &platforms);
                }
            }
        }
    }
}
