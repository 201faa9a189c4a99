//! Parses and renders the `{{...}}` expressions that may appear in tag rule
//! values, patterns, prefixes, suffixes and labels (`{{version}}`,
//! `{{branch}}`, `{{date 'YYYYMMDD' tz='Europe/Paris'}}`,
//! `{{commit_date 'YYYYMMDD'}}`, ...).

use chrono::{DateTime, Utc};
use chrono_tz::Tz;

/// Which moment a date expression formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Moment {
    /// The time of the build (`{{date}}`).
    Now,
    /// The committer date of the commit being built (`{{commit_date}}`).
    Commit,
}

/// One `{{...}}` expression.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expr {
    /// A named value such as `version` or `branch`.
    Var(String),
    /// `{{date 'FORMAT' tz='Zone'}}` or `{{commit_date ...}}`, with a
    /// moment.js style format; no format is the ISO 8601 form.
    Date { moment: Moment, format: Option<String>, tz: Option<Tz> },
}

/// A piece of a template: literal text or an expression.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Piece {
    Lit(String),
    Expr(Expr),
}

/// A parsed template.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Template {
    pub pieces: Vec<Piece>,
}

/// The two moments a template may format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Dates {
    pub now: DateTime<Utc>,
    pub commit: DateTime<Utc>,
}

/// Names usable in a `type=semver` or `type=pep440` pattern.
pub(crate) const VERSION_VARS: &[&str] = &["version", "major", "minor", "patch", "raw"];
/// Names usable in values, prefixes, suffixes and labels.
pub(crate) const GLOBAL_VARS: &[&str] =
    &["branch", "tag", "sha", "base_ref", "is_default_branch", "is_not_default_branch"];

impl Template {
    /// Parses `text`, accepting the variable names in `vars` and, when
    /// `allow_date` is set, the date expressions. The error is a reason phrase.
    pub fn parse(text: &str, vars: &[&str], allow_date: bool) -> Result<Template, String> {
        let mut pieces = Vec::new();
        let mut rest = text;
        while let Some(start) = rest.find("{{") {
            if start > 0 {
                pieces.push(Piece::Lit(rest[..start].to_string()));
            }
            let after = &rest[start + 2..];
            let end = after
                .find("}}")
                .ok_or_else(|| format!("'{{{{' without a closing '}}}}' in '{text}'"))?;
            let inner = after[..end].trim();
            pieces.push(Piece::Expr(parse_expr(inner, vars, allow_date)?));
            rest = &after[end + 2..];
        }
        if !rest.is_empty() {
            pieces.push(Piece::Lit(rest.to_string()));
        }
        Ok(Template { pieces })
    }

    /// A template made of literal text only.
    pub fn literal(text: &str) -> Template {
        Template { pieces: vec![Piece::Lit(text.to_string())] }
    }

    /// Whether the template uses the variable `name`.
    pub fn uses(&self, name: &str) -> bool {
        self.pieces.iter().any(|p| matches!(p, Piece::Expr(Expr::Var(v)) if v == name))
    }

    /// Whether the template is exactly `{{name}}` and nothing else.
    pub fn is_only(&self, name: &str) -> bool {
        matches!(self.pieces.as_slice(), [Piece::Expr(Expr::Var(v))] if v == name)
    }

    /// Renders the template; `var` gives the value of each variable.
    pub fn render(&self, var: &dyn Fn(&str) -> String, dates: &Dates) -> String {
        let mut out = String::new();
        for piece in &self.pieces {
            match piece {
                Piece::Lit(s) => out.push_str(s),
                Piece::Expr(Expr::Var(name)) => out.push_str(&var(name)),
                Piece::Expr(Expr::Date { moment, format, tz }) => {
                    let at = match moment {
                        Moment::Now => dates.now,
                        Moment::Commit => dates.commit,
                    };
                    out.push_str(&format_date(format.as_deref(), *tz, &at));
                }
            }
        }
        out
    }
}

/// Splits the arguments of a date expression: words and `key=value`, with
/// values in single or double quotes.
fn date_args(text: &str) -> Result<Vec<(Option<String>, String)>, String> {
    let mut args = Vec::new();
    let mut rest = text.trim();
    while !rest.is_empty() {
        let (key, after_key) = match rest.find(['=', ' ', '\'', '"']) {
            Some(at) if rest[at..].starts_with('=') => {
                (Some(rest[..at].to_string()), &rest[at + 1..])
            }
            _ => (None, rest),
        };
        let (value, after) = match after_key.chars().next() {
            Some(q @ ('\'' | '"')) => {
                let end = after_key[1..]
                    .find(q)
                    .ok_or_else(|| format!("a quote is not closed in '{text}'"))?;
                (after_key[1..1 + end].to_string(), &after_key[end + 2..])
            }
            _ => {
                let end = after_key.find(char::is_whitespace).unwrap_or(after_key.len());
                (after_key[..end].to_string(), &after_key[end..])
            }
        };
        args.push((key, value));
        rest = after.trim_start();
    }
    Ok(args)
}

fn parse_date(inner: &str, moment: Moment, args: &str) -> Result<Expr, String> {
    let mut format = None;
    let mut tz = None;
    let quoted = |s: &str| s.trim_start().starts_with(['\'', '"']);
    let mut first = true;
    for (key, value) in date_args(args)? {
        match key.as_deref() {
            None if first => {
                // An unquoted word is a (missing) variable for handlebars: the
                // date then takes its default, ISO 8601, form.
                format = quoted(args).then_some(value);
            }
            Some("tz") => {
                tz = Some(value.parse::<Tz>().map_err(|_| {
                    format!(
                        "tz='{value}' in '{{{{{inner}}}}}' is not a time zone; accepted: an IANA zone such as tz='Europe/Paris' or tz='UTC'"
                    )
                })?);
            }
            _ => {
                return Err(format!(
                    "'{{{{{inner}}}}}' is not accepted; write {{{{date 'FORMAT'}}}} or {{{{date 'FORMAT' tz='Zone'}}}} (and the same for commit_date)"
                ));
            }
        }
        first = false;
    }
    Ok(Expr::Date { moment, format, tz })
}

fn parse_expr(inner: &str, vars: &[&str], allow_date: bool) -> Result<Expr, String> {
    for (word, moment) in [("commit_date", Moment::Commit), ("date", Moment::Now)] {
        if let Some(args) = inner.strip_prefix(word)
            && allow_date
            && (args.is_empty() || args.starts_with(char::is_whitespace))
        {
            return parse_date(inner, moment, args);
        }
    }
    if vars.contains(&inner) {
        return Ok(Expr::Var(inner.to_string()));
    }
    let mut accepted: Vec<String> = vars.iter().map(|v| format!("{{{{{v}}}}}")).collect();
    if allow_date {
        accepted.push("{{date 'FORMAT' tz='Zone'}}".to_string());
        accepted.push("{{commit_date 'FORMAT' tz='Zone'}}".to_string());
    }
    Err(format!("unknown expression '{{{{{inner}}}}}'; accepted here: {}", accepted.join(", ")))
}

/// Formats `at` in `tz` (UTC when absent) with moment.js style tokens:
/// `YYYY`, `YY`, `MM`, `M`, `DD`, `D`, `HH`, `H`, `mm`, `ss`, `SSS`, `X`
/// (seconds since the epoch), `x` (milliseconds), `Z` (`+09:00`), `ZZ`
/// (`+0900`); `[text]` is literal. No format gives `YYYY-MM-DDTHH:mm:ssZ`,
/// with `Z` for UTC.
pub(crate) fn format_date(fmt: Option<&str>, tz: Option<Tz>, at: &DateTime<Utc>) -> String {
    let at = at.with_timezone(&tz.unwrap_or(Tz::UTC));
    let Some(fmt) = fmt else {
        let text = at.format("%Y-%m-%dT%H:%M:%S%:z").to_string();
        return text.strip_suffix("+00:00").map(|t| format!("{t}Z")).unwrap_or(text);
    };
    const TOKENS: &[(&str, &str)] = &[
        ("YYYY", "%Y"),
        ("SSS", "%3f"),
        ("YY", "%y"),
        ("MM", "%m"),
        ("M", "%-m"),
        ("DD", "%d"),
        ("D", "%-d"),
        ("HH", "%H"),
        ("H", "%-H"),
        ("mm", "%M"),
        ("ss", "%S"),
        ("X", "%s"),
        ("ZZ", "%z"),
        ("Z", "%:z"),
    ];
    let mut out = String::new();
    let mut rest = fmt;
    'outer: while let Some(c) = rest.chars().next() {
        if c == '['
            && let Some(end) = rest.find(']')
        {
            out.push_str(&rest[1..end]);
            rest = &rest[end + 1..];
            continue;
        }
        if let Some(after) = rest.strip_prefix('x') {
            out.push_str(&at.timestamp_millis().to_string());
            rest = after;
            continue;
        }
        for (token, spec) in TOKENS {
            if let Some(after) = rest.strip_prefix(token) {
                out.push_str(&at.format(spec).to_string());
                rest = after;
                continue 'outer;
            }
        }
        out.push(c);
        rest = &rest[c.len_utf8()..];
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn dates() -> Dates {
        let now = Utc.with_ymd_and_hms(2024, 1, 2, 3, 4, 5).unwrap();
        Dates { now, commit: Utc.with_ymd_and_hms(2023, 6, 7, 22, 0, 0).unwrap() }
    }

    #[test]
    fn parses_and_renders() {
        let t = Template::parse("v{{major}}.{{ minor }}-x", VERSION_VARS, false).unwrap();
        assert!(t.uses("major") && t.uses("minor") && !t.uses("patch"));
        let out = t.render(
            &|v| match v {
                "major" => "1".into(),
                "minor" => "2".into(),
                _ => "?".into(),
            },
            &dates(),
        );
        assert_eq!(out, "v1.2-x");
        assert!(Template::parse("{{ raw }}", VERSION_VARS, false).unwrap().is_only("raw"));
        assert!(!Template::parse("v{{raw}}", VERSION_VARS, false).unwrap().is_only("raw"));
    }

    #[test]
    fn rejects_unknown_and_unclosed() {
        let e = Template::parse("{{nope}}", VERSION_VARS, false).unwrap_err();
        assert!(e.contains("unknown expression '{{nope}}'"), "{e}");
        assert!(e.contains("{{version}}"), "{e}");
        assert!(Template::parse("{{version", VERSION_VARS, false).is_err());
        assert!(Template::parse("{{date 'YYYY'}}", VERSION_VARS, false).is_err());
        let e =
            Template::parse("{{date 'YYYY' tz='Mars/Olympus'}}", GLOBAL_VARS, true).unwrap_err();
        assert!(e.contains("is not a time zone"), "{e}");
        assert!(Template::parse("{{date 'YYYY' colour='red'}}", GLOBAL_VARS, true).is_err());
    }

    #[test]
    fn dates_table() {
        let rows: &[(&str, &str)] = &[
            ("nightly-{{date 'YYYYMMDD'}}", "nightly-20240102"),
            ("{{date \"YY.MM.DD[T]HHmmss\"}}", "24.01.02T030405"),
            ("{{date 'X'}}", "1704164645"),
            ("{{date 'x'}}", "1704164645000"),
            ("{{date 'YYYYMMDD-HHmmss' tz='Asia/Tokyo'}}", "20240102-120405"),
            ("{{date 'HH:mmZ' tz='Asia/Tokyo'}}", "12:04+09:00"),
            ("{{date 'D/M H'}}", "2/1 3"),
            ("{{commit_date 'YYYY-MM-DD'}}", "2023-06-07"),
            ("{{commit_date 'YYYY-MM-DD' tz='Europe/Paris'}}", "2023-06-08"),
            ("{{commit_date YYYY-MM-DD}}", "2023-06-07T22:00:00Z"),
            ("{{date}}", "2024-01-02T03:04:05Z"),
            ("{{date tz='Asia/Tokyo'}}", "2024-01-02T12:04:05+09:00"),
        ];
        for (text, want) in rows {
            let t =
                Template::parse(text, GLOBAL_VARS, true).unwrap_or_else(|e| panic!("{text}: {e}"));
            assert_eq!(t.render(&|_| String::new(), &dates()), *want, "template {text}");
        }
    }
}
