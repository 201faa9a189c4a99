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

/// The facts of BuildKit's parser tests (its `testfiles` and heredoc
/// tests), each on a minimal file: the instructions it parses into.
#[test]
fn buildkit_parser_facts() {
    let cases: [(&str, &str, &[&str]); 22] = [
        (
            "continuation lines keep their leading blanks; the first line's are dropped",
            "FROM a\n  RUN echo hello\\\n  world\\\n  light\\\nning\n",
            &["L1 FROM a", "L2 RUN echo hello  world  lightning"],
        ),
        (
            "blanks after a trailing escape still continue the line",
            "FROM a\nRUN echo hello  \\  \nworld\n",
            &["L1 FROM a", "L2 RUN echo hello  world"],
        ),
        (
            "lines holding only the escape, or a blank and the escape, join nothing",
            "FROM a\nENV E hello\\\n\\\nworld\nENV F hello\\\n \\\nworld\n",
            &["L1 FROM a", "L2 ENV E helloworld", "L5 ENV F hello world"],
        ),
        (
            "comments and blank lines inside a continued instruction are skipped",
            "FROM a\nRUN echo hello \\\n# a comment\n\n   # an indented comment\n\t\nmore stuff\n",
            &["L1 FROM a", "L2 RUN echo hello more stuff"],
        ),
        (
            "an escaped escape at the end does not continue",
            "FROM a\nENV C trailing\\\\\nENV D next\n",
            &["L1 FROM a", "L2 ENV C trailing\\\\", "L3 ENV D next"],
        ),
        (
            "a continuation at the end of the file ends the instruction",
            "FROM a\n\nRUN something \\",
            &["L1 FROM a", "L3 RUN something"],
        ),
        (
            "an escape directive after a comment is a comment",
            "# a comment\n# escape = `\n\nFROM a\nENV P \\\n\\go\n",
            &["L4 FROM a", "L5 ENV P \\go"],
        ),
        (
            "escape directive with blanks around `=`, no blank line after",
            "# escape = `\n# a comment\nFROM a\nENV P `\n\\go\n",
            &["L3 FROM a", "L4 ENV P \\go"],
        ),
        (
            "escape directive without a blank after #, after a syntax directive",
            "# syntax = docker/dockerfile\n#escape = `\n\nFROM `\n    a\nRUN dir c:\\\n",
            &["L4 FROM a", "L6 RUN dir c:\\"],
        ),
        (
            "an unknown directive ends the directives",
            "# foo=bar\n# escape=`\nFROM a\nRUN x \\\ny\n",
            &["L3 FROM a", "L4 RUN x y"],
        ),
        (
            "a delimiter with a dot, and COPY's content",
            "FROM a\nCOPY <<file.txt /dest\nhello world\nfile.txt\nRUN x\n",
            &["L1 FROM a", "L2 COPY <<file.txt /dest\nhello world\nfile.txt", "L5 RUN x"],
        ),
        (
            "quotes in the delimiter are removed; an escaped quote is kept",
            "FROM a\nRUN <<eo'f'\necho\neof\nRUN <<eo\\'f\necho\neo'f\nRUN <<'e'o\\'f\neo'f\nRUN <<'one two'\none two\n",
            &[
                "L1 FROM a",
                "L2 RUN <<eo'f'\necho\neof",
                "L5 RUN <<eo\\'f\necho\neo'f",
                "L8 RUN <<'e'o\\'f\neo'f",
                "L10 RUN <<'one two'\none two",
            ],
        ),
        (
            "blanks after <<, a file descriptor, a $ in the delimiter",
            "FROM a\nRUN <<  EOF  > foo\nEOF\nRUN 3<<E2\nE2\nRUN <<$EOF\n$EOF\n",
            &["L1 FROM a", "L2 RUN <<  EOF  > foo\nEOF", "L4 RUN 3<<E2\nE2", "L6 RUN <<$EOF\n$EOF"],
        ),
        (
            "<<- strips leading tabs from the closing line only",
            "FROM a\nRUN <<-X\n\tbaz\n\tX\nRUN <<X\n\tX\nX\n",
            &["L1 FROM a", "L2 RUN <<-X\n\tbaz\n\tX", "L5 RUN <<X\n\tX\nX"],
        ),
        (
            "two heredocs on a line close in order, whatever their bodies hold",
            "FROM a\nCOPY <<X <<Y /dest\nY\nX\nX\nY\n",
            &["L1 FROM a", "L2 COPY <<X <<Y /dest\nY\nX\nX\nY"],
        ),
        (
            "a heredoc after flags and before more words",
            "FROM a\nRUN --mount=type=cache,target=/c <<EOT python3\nprint(1)\nEOT\n",
            &["L1 FROM a", "L2 RUN --mount=type=cache,target=/c <<EOT python3\nprint(1)\nEOT"],
        ),
        (
            "comments inside a heredoc are content",
            "FROM a\nRUN <<C\n# inside\necho x # trailing\nC\n",
            &["L1 FROM a", "L2 RUN <<C\n# inside\necho x # trailing\nC"],
        ),
        (
            "no heredoc in a quoted word, glued to a word, or outside RUN, COPY, ADD",
            "FROM a\nRUN \"<<NO\"\nRUN cat<<NO\nUSER <<NO\nNO\n",
            &["L1 FROM a", "L2 RUN \"<<NO\"", "L3 RUN cat<<NO", "L4 USER <<NO", "L5 NO"],
        ),
        (
            "ONBUILD RUN takes a heredoc",
            "FROM a\nONBUILD RUN <<E\nFROM b\nE\n",
            &["L1 FROM a", "L2 ONBUILD RUN <<E\nFROM b\nE"],
        ),
        (
            "a continued line that opens a heredoc",
            "FROM a\nRUN \\\n  <<E bash\necho\nE\n",
            &["L1 FROM a", "L2 RUN <<E bash\necho\nE"],
        ),
        (
            "a byte-order mark and CRLF",
            "\u{feff}FROM a\r\nRUN b \\\r\n c\r\n",
            &["L1 FROM a", "L2 RUN b  c"],
        ),
        (
            "a heredoc in a backtick-escaped file",
            "# escape=`\nFROM a\nRUN <<E `\n  bash\nx\nE\n",
            &["L2 FROM a", "L3 RUN <<E   bash\nx\nE"],
        ),
    ];
    for (name, text, expected) in cases {
        let df = parse_dockerfile(text).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(outline(&df), expected, "{name}");
    }
    assert_eq!(
        parse_dockerfile("# escape=`\n# escape=`\nFROM a\n"),
        Err(DockerfileError::RepeatedDirective { line: 2, key: "escape".into() })
    );
    assert_eq!(
        parse_dockerfile("FROM a\nRUN <<-X\nbody\n X\n"),
        Err(DockerfileError::UnterminatedHeredoc { line: 2, delimiter: "X".into() })
    );
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
                if let Ok(stages) = super::super::resolve(&df, &args, target, &[]) {
                    let _ = super::super::lint(&df, &stages, &platforms[1..], &platforms);
                }
            }
        }
    }
}
