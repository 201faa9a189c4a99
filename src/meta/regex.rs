//! The regular expressions of `type=match` tag rules, through the regex
//! crate, with the group-capture shape the rule engine needs.

/// A compiled pattern, comparable by its source text.
#[derive(Debug, Clone)]
pub struct Regex {
    inner: regex::Regex,
}

impl PartialEq for Regex {
    fn eq(&self, other: &Self) -> bool {
        self.as_str() == other.as_str()
    }
}

impl Eq for Regex {}

impl Regex {
    pub fn new(pattern: &str) -> Result<Regex, String> {
        regex::Regex::new(pattern)
            .map(|inner| Regex { inner })
            .map_err(|e| e.to_string().lines().last().unwrap_or("invalid").trim().to_string())
    }

    pub fn as_str(&self) -> &str {
        self.inner.as_str()
    }

    /// Number of capturing groups, not counting the whole match.
    pub fn group_count(&self) -> usize {
        self.inner.captures_len() - 1
    }

    /// The whole match and every group of the first match, if any.
    pub fn captures(&self, text: &str) -> Option<Vec<Option<String>>> {
        self.inner.captures(text).map(|caps| caps.iter().map(|m| m.map(|m| m.as_str().to_string())).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn group(pattern: &str, text: &str, g: usize) -> Option<String> {
        Regex::new(pattern).unwrap().captures(text).and_then(|c| c[g].clone())
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
        ];
        for (pattern, text, g, want) in rows {
            assert_eq!(group(pattern, text, *g).as_deref(), *want, "pattern {pattern:?} on {text:?}, group {g}");
        }
    }

    #[test]
    fn bad_patterns() {
        for bad in ["(", "(a", "a)", "*a", "[a", "a{3,1}", "(?=a)", "[z-a]"] {
            assert!(Regex::new(bad).is_err(), "{bad:?} should be rejected");
        }
        assert_eq!(Regex::new(r"(a)(?:b)(c)").unwrap().group_count(), 2);
    }
}
