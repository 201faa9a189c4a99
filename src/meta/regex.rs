//! The regular expressions of `type=match` tag rules and of `match=` on
//! version rules, through the regex crate, with the group-capture shape the
//! rule engine needs. A pattern may also be written `/REGEX/FLAGS` as in
//! JavaScript (`i`, `m`, `s`; `g` makes the groups the successive matches).

/// A compiled pattern, comparable by its source text.
#[derive(Debug, Clone)]
pub struct Regex {
    inner: regex::Regex,
    source: String,
    /// `/.../g`: the "groups" are the whole matches, in order.
    global: bool,
}

impl PartialEq for Regex {
    fn eq(&self, other: &Self) -> bool {
        self.as_str() == other.as_str()
    }
}

impl Eq for Regex {}

impl Regex {
    pub fn new(pattern: &str) -> Result<Regex, String> {
        let (body, flags) = match pattern.strip_prefix('/').and_then(|rest| rest.rsplit_once('/')) {
            Some((body, flags))
                if !body.is_empty() && flags.chars().all(|f| "gimsuy".contains(f)) =>
            {
                (body, flags)
            }
            _ => (pattern, ""),
        };
        let inline: String = flags.chars().filter(|f| "ims".contains(*f)).collect();
        let compiled =
            if inline.is_empty() { body.to_string() } else { format!("(?{inline}){body}") };
        regex::Regex::new(&compiled)
            .map(|inner| Regex { inner, source: pattern.to_string(), global: flags.contains('g') })
            .map_err(|e| e.to_string().lines().last().unwrap_or("invalid").trim().to_string())
    }

    pub fn as_str(&self) -> &str {
        &self.source
    }

    /// The whole match and every group of the first match, if any.
    pub fn captures(&self, text: &str) -> Option<Vec<Option<String>>> {
        if self.global {
            let all: Vec<Option<String>> =
                self.inner.find_iter(text).map(|m| Some(m.as_str().to_string())).collect();
            return (!all.is_empty()).then_some(all);
        }
        self.inner
            .captures(text)
            .map(|caps| caps.iter().map(|m| m.map(|m| m.as_str().to_string())).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn group(pattern: &str, text: &str, g: usize) -> Option<String> {
        Regex::new(pattern).unwrap().captures(text).and_then(|c| c.get(g).cloned().flatten())
    }

    #[test]
    fn table() {
        let rows: &[(&str, &str, usize, Option<&str>)] = &[
            (r"\d.\d.\d", "v1.2.3", 0, Some("1.2.3")),
            (r"v(\d.\d)", "v1.2.3", 1, Some("1.2")),
            (r"^v(\d+)\.(\d+)\.(\d+)$", "v10.20.30", 2, Some("20")),
            (r"^v(\d+)\.(\d+)\.(\d+)$", "xv10.20.30", 0, None),
            (r"release-(.*)", "release-2024.1", 1, Some("2024.1")),
            (r"(a)|(b)", "b", 1, None),
            (r"(a)|(b)", "b", 2, Some("b")),
            (r"/^V(\d)$/i", "v1", 1, Some("1")),
            (r"/\d/g", "a1b2", 1, Some("2")),
            (r"/\d/g", "a1b2", 2, None),
            (r"/^v(\d.\d.\d)$/ig", "p1/v1.0.0", 0, None),
        ];
        for (pattern, text, g, want) in rows {
            assert_eq!(
                group(pattern, text, *g).as_deref(),
                *want,
                "pattern {pattern:?} on {text:?}, group {g}"
            );
        }
    }

    #[test]
    fn bad_patterns() {
        for bad in ["(", "(a", "a)", "*a", "[a", "a{3,1}", "(?=a)", "[z-a]"] {
            assert!(Regex::new(bad).is_err(), "{bad:?} should be rejected");
        }
    }
}
