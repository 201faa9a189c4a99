//! Parses and renders the `{{...}}` expressions that may appear in tag rule
//! values, patterns, prefixes and suffixes (`{{version}}`, `{{branch}}`,
//! `{{date 'YYYYMMDD'}}`, ...).

use chrono::{DateTime, Utc};

/// One `{{...}}` expression.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expr {
    /// A named value such as `version` or `branch`.
    Var(String),
    /// `{{date 'FORMAT'}}`, with a moment.js style format.
    Date(String),
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

/// Names usable in a `type=semver` pattern.
pub const SEMVER_VARS: &[&str] = &["version", "major", "minor", "patch", "raw"];
/// Names usable in values, prefixes and suffixes.
pub const GLOBAL_VARS: &[&str] = &["branch", "tag", "sha", "base_ref", "is_default_branch"];

impl Template {
    /// Parses `text`, accepting the variable names in `vars` and, when
    /// `allow_date` is set, `{{date 'FORMAT'}}`. The error is a reason phrase.
    pub fn parse(text: &str, vars: &[&str], allow_date: bool) -> Result<Template, String> {
        let mut pieces = Vec::new();
        let mut rest = text;
        while let Some(start) = rest.find("{{") {
            if start > 0 {
                pieces.push(Piece::Lit(rest[..start].to_string()));
            }
            let after = &rest[start + 2..];
            let end = after.find("}}").ok_or_else(|| format!("'{{{{' without a closing '}}}}' in '{text}'"))?;
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

    /// Renders the template; `var` gives the value of each variable.
    pub fn render(&self, var: &dyn Fn(&str) -> String, now: &DateTime<Utc>) -> String {
        let mut out = String::new();
        for piece in &self.pieces {
            match piece {
                Piece::Lit(s) => out.push_str(s),
                Piece::Expr(Expr::Var(name)) => out.push_str(&var(name)),
                Piece::Expr(Expr::Date(fmt)) => out.push_str(&format_date(fmt, now)),
            }
        }
        out
    }
}

fn parse_expr(inner: &str, vars: &[&str], allow_date: bool) -> Result<Expr, String> {
    if let Some(arg) = inner.strip_prefix("date")
        && allow_date
        && (arg.is_empty() || arg.starts_with(char::is_whitespace))
    {
        let arg = arg.trim();
        let quote = arg.chars().next();
        return match quote {
            Some(q @ ('\'' | '"')) if arg.len() >= 2 && arg.ends_with(q) => Ok(Expr::Date(arg[1..arg.len() - 1].to_string())),
            _ => Err(format!(
                "'{{{{{inner}}}}}' is not accepted; write the date format in quotes, such as {{{{date 'YYYYMMDD'}}}} (time zones are not supported; dates are UTC)"
            )),
        };
    }
    if vars.contains(&inner) {
        return Ok(Expr::Var(inner.to_string()));
    }
    let mut accepted: Vec<String> = vars.iter().map(|v| format!("{{{{{v}}}}}")).collect();
    if allow_date {
        accepted.push("{{date 'FORMAT'}}".to_string());
    }
    Err(format!("unknown expression '{{{{{inner}}}}}'; accepted here: {}", accepted.join(", ")))
}

/// Formats `now` with moment.js style tokens: `YYYY`, `YY`, `MM`, `DD`, `HH`,
/// `mm`, `ss`, `SSS`, `X` (seconds since the epoch); `[text]` is literal.
pub fn format_date(fmt: &str, now: &DateTime<Utc>) -> String {
    const TOKENS: &[(&str, &str)] =
        &[("YYYY", "%Y"), ("SSS", "%3f"), ("YY", "%y"), ("MM", "%m"), ("DD", "%d"), ("HH", "%H"), ("mm", "%M"), ("ss", "%S"), ("X", "%s")];
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
        for (token, spec) in TOKENS {
            if let Some(after) = rest.strip_prefix(token) {
                out.push_str(&now.format(spec).to_string());
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

    #[test]
    fn parses_and_renders() {
        let t = Template::parse("v{{major}}.{{ minor }}-x", SEMVER_VARS, false).unwrap();
        assert!(t.uses("major") && t.uses("minor") && !t.uses("patch"));
        let now = Utc.with_ymd_and_hms(2024, 1, 2, 3, 4, 5).unwrap();
        let out = t.render(
            &|v| match v {
                "major" => "1".into(),
                "minor" => "2".into(),
                _ => "?".into(),
            },
            &now,
        );
        assert_eq!(out, "v1.2-x");
    }

    #[test]
    fn rejects_unknown_and_unclosed() {
        let e = Template::parse("{{nope}}", SEMVER_VARS, false).unwrap_err();
        assert!(e.contains("unknown expression '{{nope}}'"), "{e}");
        assert!(e.contains("{{version}}"), "{e}");
        assert!(Template::parse("{{version", SEMVER_VARS, false).is_err());
        assert!(Template::parse("{{date 'YYYY'}}", SEMVER_VARS, false).is_err());
        assert!(Template::parse("{{date YYYY}}", GLOBAL_VARS, true).is_err());
    }

    #[test]
    fn dates() {
        let now = Utc.with_ymd_and_hms(2024, 1, 2, 3, 4, 5).unwrap();
        let t = Template::parse("nightly-{{date 'YYYYMMDD'}}", GLOBAL_VARS, true).unwrap();
        assert_eq!(t.render(&|_| String::new(), &now), "nightly-20240102");
        assert_eq!(format_date("YY.MM.DD[T]HHmmss", &now), "24.01.02T030405");
        assert_eq!(format_date("X", &now), "1704164645");
    }
}
