//! Shell-style words as Dockerfile instructions use them: splitting
//! arguments on unquoted whitespace, and substituting variables the way
//! BuildKit's shell lexer does in FROM lines and ARG defaults: `$VAR`,
//! `${VAR}`, `${VAR:-default}`, `${VAR-default}`, `${VAR:+alt}`,
//! `${VAR+alt}`, `${VAR:?message}`, `${VAR?message}`, the pattern trims
//! `${VAR#pattern}`, `${VAR##pattern}`, `${VAR%pattern}`, `${VAR%%pattern}`
//! and the replacements `${VAR/pattern/text}`, `${VAR//pattern/text}`
//! (patterns with `*` and `?`).

/// Splits on whitespace outside quotes and `${…}`. Quotes and escapes stay
/// in the words; [`expand`] removes them.
pub(crate) fn split_words(text: &str, escape: char) -> Vec<String> {
    let mut words = Vec::new();
    let mut current = String::new();
    let mut in_word = false;
    let mut quote: Option<char> = None;
    let mut braces = 0usize;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if quote != Some('\'') {
            if c == '$' && chars.peek() == Some(&'{') {
                braces += 1;
            } else if c == '}' && braces > 0 {
                braces -= 1;
            }
        }
        if let Some(q) = quote {
            current.push(c);
            if c == q {
                quote = None;
            } else if c == escape
                && q == '"'
                && let Some(next) = chars.next()
            {
                current.push(next);
            }
            continue;
        }
        if c.is_whitespace() && braces == 0 {
            if in_word {
                words.push(std::mem::take(&mut current));
                in_word = false;
            }
            continue;
        }
        in_word = true;
        current.push(c);
        if c == '"' || c == '\'' {
            quote = Some(c);
        } else if c == escape
            && let Some(next) = chars.next()
        {
            current.push(next);
        }
    }
    if in_word {
        words.push(current);
    }
    words
}

/// What a variable name stands for while expanding.
pub(crate) enum Lookup {
    Set(String),
    Unset,
    /// Leave the reference as written (BuildKit's automatic platform ARGs,
    /// whose values are only known per platform).
    Keep,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ExpandError {
    /// An unclosed `${` or an empty name.
    Syntax,
    /// A `${NAME…}` with a modifier BuildKit refuses too (`${A:x}`,
    /// `${A:#x}`), or a pattern it cannot read.
    Unsupported,
    /// `${NAME:?message}` with NAME unset.
    Required { name: String, message: String },
}

/// Nesting of `${A:-${B:-…}}` beyond this is refused rather than recursed.
const MAX_DEPTH: usize = 32;

/// Substitutes variables and removes quotes and escapes.
pub(crate) fn expand(
    word: &str,
    escape: char,
    lookup: &mut dyn FnMut(&str) -> Lookup,
) -> Result<String, ExpandError> {
    let chars: Vec<char> = word.chars().collect();
    let mut out = String::new();
    expand_into(&chars, Mode { escape, raw_escapes: false }, lookup, 0, &mut out)?;
    Ok(out)
}

/// How a word is read: its escape character, and whether escapes are kept
/// as written (in a `#`, `%` or `/` pattern, where they escape `*` and `?`).
#[derive(Debug, Clone, Copy)]
struct Mode {
    escape: char,
    raw_escapes: bool,
}

fn expand_into(
    chars: &[char],
    mode: Mode,
    lookup: &mut dyn FnMut(&str) -> Lookup,
    depth: usize,
    out: &mut String,
) -> Result<(), ExpandError> {
    let escape = mode.escape;
    if depth > MAX_DEPTH {
        return Err(ExpandError::Syntax);
    }
    let mut quote: Option<char> = None;
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        match quote {
            Some('\'') => {
                if c == '\'' {
                    quote = None;
                } else {
                    out.push(c);
                }
                i += 1;
            }
            _ if c == '$' => {
                i = expand_reference(chars, i, mode, lookup, depth, out)?;
            }
            _ if c == escape && mode.raw_escapes => {
                out.extend(chars.get(i..(i + 2).min(chars.len())).unwrap_or_default());
                i += 2;
            }
            _ if c == escape => {
                match chars.get(i + 1) {
                    Some(&next) => {
                        // Inside double quotes only `"`, `$` and the escape
                        // character itself are escaped.
                        if quote == Some('"') && next != '"' && next != '$' && next != escape {
                            out.push(c);
                        }
                        out.push(next);
                    }
                    None => out.push(c),
                }
                i += 2;
            }
            Some(_) if c == '"' => {
                quote = None;
                i += 1;
            }
            None if c == '"' || c == '\'' => {
                quote = Some(c);
                i += 1;
            }
            _ => {
                out.push(c);
                i += 1;
            }
        }
    }
    Ok(())
}

fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// Expands the reference whose `$` is at `start`; returns the index after it.
fn expand_reference(
    chars: &[char],
    start: usize,
    mode: Mode,
    lookup: &mut dyn FnMut(&str) -> Lookup,
    depth: usize,
    out: &mut String,
) -> Result<usize, ExpandError> {
    match chars.get(start + 1) {
        Some('{') => expand_braced(chars, start, mode, lookup, depth, out),
        Some(&c) if c.is_ascii_alphabetic() || c == '_' => {
            let mut end = start + 1;
            while end < chars.len() && is_name_char(chars[end]) {
                end += 1;
            }
            let name: String = chars[start + 1..end].iter().collect();
            match lookup(&name) {
                Lookup::Set(v) => out.push_str(&v),
                Lookup::Unset => {}
                Lookup::Keep => out.extend(&chars[start..end]),
            }
            Ok(end)
        }
        _ => {
            out.push('$');
            Ok(start + 1)
        }
    }
}

/// Expands `${NAME}` or `${NAME<operator>word}` whose `$` is at `start`;
/// returns the index after its `}`.
fn expand_braced(
    chars: &[char],
    start: usize,
    mode: Mode,
    lookup: &mut dyn FnMut(&str) -> Lookup,
    depth: usize,
    out: &mut String,
) -> Result<usize, ExpandError> {
    let name_start = start + 2;
    let mut name_end = name_start;
    while name_end < chars.len() && is_name_char(chars[name_end]) {
        name_end += 1;
    }
    let close = matching_brace(chars, start + 1, mode.escape).ok_or(ExpandError::Syntax)?;
    if name_end == name_start || name_end > close {
        return Err(ExpandError::Syntax);
    }
    let name: String = chars[name_start..name_end].iter().collect();
    let value = match lookup(&name) {
        Lookup::Keep => {
            out.extend(&chars[start..=close]);
            return Ok(close + 1);
        }
        Lookup::Set(v) => Some(v),
        Lookup::Unset => None,
    };
    let (modifier, word) = parse_modifier(&chars[name_end..close])?;
    let mut expand_word = |raw_escapes: bool, word: &[char], out: &mut String| {
        expand_into(word, Mode { raw_escapes, ..mode }, lookup, depth + 1, out)
    };
    let Some(modifier) = modifier else {
        out.push_str(&value.unwrap_or_default());
        return Ok(close + 1);
    };
    let value_or_empty = value.clone().unwrap_or_default();
    match modifier.operator {
        Operator::Trim { suffix, greedy } => {
            let mut pattern = String::new();
            expand_word(true, word, &mut pattern)?;
            out.push_str(&trim(&value_or_empty, &pattern, suffix, greedy)?);
        }
        Operator::Replace { all } => {
            let slash = unescaped(word, '/', mode.escape).ok_or(ExpandError::Syntax)?;
            let (mut pattern, mut with) = (String::new(), String::new());
            expand_word(true, &word[..slash], &mut pattern)?;
            expand_word(true, &word[slash + 1..], &mut with)?;
            out.push_str(&replace(&value_or_empty, &pattern, &with, all)?);
        }
        _ => match substitution(modifier, value.as_deref()) {
            Substitution::Value => out.push_str(&value_or_empty),
            Substitution::Nothing => {}
            Substitution::Word => expand_word(false, word, out)?,
            Substitution::Missing => {
                let mut message = String::new();
                expand_word(false, word, &mut message)?;
                if message.is_empty() {
                    message = "it has no value".to_string();
                }
                return Err(ExpandError::Required { name, message });
            }
        },
    }
    Ok(close + 1)
}

/// The operator of `${NAME<operator>word}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Operator {
    /// `-`: the word when the name has no value.
    Default,
    /// `+`: the word when the name has a value.
    Alternative,
    /// `?`: an error with the word as message when the name has no value.
    Required,
    /// `#`, `##` (prefix), `%`, `%%` (suffix): the value without the
    /// shortest (longest when `greedy`) part matching the pattern.
    Trim { suffix: bool, greedy: bool },
    /// `/pattern/text`, `//pattern/text` (`all`): the value with the first
    /// (every) longest match of the pattern replaced.
    Replace { all: bool },
}

/// What follows the name in `${…}`: the operator and whether a `:` leads it
/// (then an empty value counts as no value).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Modifier {
    operator: Operator,
    colon: bool,
}

/// The modifier after the name in `${…}` and the word after it; none for a
/// plain `${NAME}`. Like BuildKit, `:` goes only with `-`, `+` and `?`.
fn parse_modifier(rest: &[char]) -> Result<(Option<Modifier>, &[char]), ExpandError> {
    let (colon, operator, word) = match rest {
        [] => return Ok((None, rest)),
        [':', operator, word @ ..] => (true, *operator, word),
        [operator, word @ ..] => (false, *operator, word),
    };
    let doubled = word.first() == Some(&operator);
    let (operator, word) = match operator {
        '-' => (Operator::Default, word),
        '+' => (Operator::Alternative, word),
        '?' => (Operator::Required, word),
        '#' | '%' if !colon => {
            let trim = Operator::Trim { suffix: operator == '%', greedy: doubled };
            (trim, if doubled { &word[1..] } else { word })
        }
        '/' if !colon => {
            (Operator::Replace { all: doubled }, if doubled { &word[1..] } else { word })
        }
        _ => return Err(ExpandError::Unsupported),
    };
    Ok((Some(Modifier { operator, colon }), word))
}

/// What a `${…}` reference becomes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Substitution {
    Value,
    Nothing,
    Word,
    /// `${NAME?message}` without a value: an error.
    Missing,
}

fn substitution(modifier: Modifier, value: Option<&str>) -> Substitution {
    let Modifier { operator, colon } = modifier;
    // The `:` forms take an empty value as no value.
    let given = value.is_some_and(|v| !colon || !v.is_empty());
    match (operator, given) {
        (Operator::Alternative, false) => Substitution::Nothing,
        (Operator::Default, false) | (Operator::Alternative, true) => Substitution::Word,
        (Operator::Required, false) => Substitution::Missing,
        _ => Substitution::Value,
    }
}

/// The index of the first `c` in `word` not escaped and not inside `${…}`.
fn unescaped(word: &[char], c: char, escape: char) -> Option<usize> {
    let mut depth = 0usize;
    let mut k = 0;
    while k < word.len() {
        match word[k] {
            x if x == escape => k += 1,
            '{' => depth += 1,
            '}' => depth = depth.saturating_sub(1),
            x if x == c && depth == 0 => return Some(k),
            _ => {}
        }
        k += 1;
    }
    None
}

/// A shell pattern (`*`, `?`, `\` escaping them) as a regular expression,
/// as BuildKit converts it: `*` lazy unless `greedy`.
fn pattern_regex(pattern: &str, greedy: bool, anchored: bool) -> Result<regex::Regex, ExpandError> {
    let mut out = String::from(if anchored { "^" } else { "" });
    let mut chars = pattern.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '*' => out.push_str(if greedy { ".*" } else { ".*?" }),
            '?' => out.push('.'),
            '\\' => match chars.next() {
                Some(next @ ('*' | '?' | '\\')) => {
                    out.push('\\');
                    out.push(next);
                }
                Some(next @ ('}' | '/')) => out.push_str(&regex::escape(&next.to_string())),
                _ => return Err(ExpandError::Unsupported),
            },
            c => out.push_str(&regex::escape(&c.to_string())),
        }
    }
    regex::Regex::new(&out).map_err(|_| ExpandError::Unsupported)
}

/// `${VALUE#pattern}` and its kin: the suffix forms match the reversed
/// pattern against the reversed value, as BuildKit does.
fn trim(value: &str, pattern: &str, suffix: bool, greedy: bool) -> Result<String, ExpandError> {
    if !suffix {
        let re = pattern_regex(pattern, greedy, true)?;
        return Ok(re.find(value).map_or(value, |m| &value[m.end()..]).to_string());
    }
    let reversed: String = value.chars().rev().collect();
    let trimmed = trim(&reversed, &reverse_pattern(pattern), false, greedy)?;
    Ok(trimmed.chars().rev().collect())
}

/// A pattern reversed, its escapes kept in front of what they escape.
fn reverse_pattern(pattern: &str) -> String {
    let chars: Vec<char> = pattern.chars().collect();
    let mut units: Vec<String> = Vec::new();
    let mut k = 0;
    while k < chars.len() {
        if chars[k] == '\\' && k + 1 < chars.len() {
            units.push(chars[k..k + 2].iter().collect());
            k += 2;
        } else {
            units.push(chars[k].to_string());
            k += 1;
        }
    }
    units.into_iter().rev().collect()
}

fn replace(value: &str, pattern: &str, with: &str, all: bool) -> Result<String, ExpandError> {
    let re = pattern_regex(pattern, true, false)?;
    let with = regex::NoExpand(with);
    Ok(if all { re.replace_all(value, with) } else { re.replace(value, with) }.into_owned())
}

/// The index of the `}` closing the `{` at `open`.
fn matching_brace(chars: &[char], open: usize, escape: char) -> Option<usize> {
    let mut depth = 0usize;
    let mut k = open;
    while k < chars.len() {
        let c = chars[k];
        if c == escape {
            k += 2;
            continue;
        }
        if c == '{' {
            depth += 1;
        } else if c == '}' {
            depth -= 1;
            if depth == 0 {
                return Some(k);
            }
        }
        k += 1;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn run(word: &str, vars: &[(&str, &str)]) -> Result<String, ExpandError> {
        let map: HashMap<&str, &str> = vars.iter().copied().collect();
        expand(word, '\\', &mut |name| match map.get(name) {
            Some(v) => Lookup::Set(v.to_string()),
            None if name.starts_with("TARGET") => Lookup::Keep,
            None => Lookup::Unset,
        })
    }

    #[test]
    fn substitution_forms() {
        let vars = [("A", "alpine"), ("E", ""), ("T", "3.19")];
        let cases = [
            ("$A", "alpine"),
            ("${A}", "alpine"),
            ("${A}:${T}", "alpine:3.19"),
            ("$A:$T", "alpine:3.19"),
            ("${X:-debian}", "debian"),
            ("${A:-debian}", "alpine"),
            ("${E:-debian}", "debian"),
            ("${E-debian}", ""),
            ("${X-debian}", "debian"),
            ("${A:+alt}", "alt"),
            ("${E:+alt}", ""),
            ("${E+alt}", "alt"),
            ("${X:+alt}", ""),
            ("${X+alt}", ""),
            ("${X:-}", ""),
            ("${E?no E}", ""),
            ("${A?no A}", "alpine"),
            ("${X:-${A}:${T}}", "alpine:3.19"),
            ("$X", ""),
            ("img:${TARGETARCH}", "img:${TARGETARCH}"),
            ("img-$TARGETARCH", "img-$TARGETARCH"),
            ("\"$A\"", "alpine"),
            ("'$A'", "$A"),
            ("\\$A", "$A"),
            ("cost$", "cost$"),
            ("$1x", "$1x"),
        ];
        for (word, expected) in cases {
            assert_eq!(run(word, &vars).as_deref(), Ok(expected), "{word}");
        }
    }

    /// The pattern forms, with BuildKit's shell-lexer results.
    #[test]
    fn pattern_forms() {
        let vars =
            [("A", "busybox:1.36"), ("I", "idle-alpine"), ("P", "a/b/c.tar.gz"), ("S", "a*b")];
        let cases = [
            ("${A%:*}", "busybox"),
            ("${A%%.*}", "busybox:1"),
            ("${A%.*}", "busybox:1"),
            ("${A#*:}", "1.36"),
            ("${I#idle}", "-alpine"),
            ("${I#idle-}", "alpine"),
            ("${I##*-}", "alpine"),
            ("${I#*-}", "alpine"),
            ("${P#*/}", "b/c.tar.gz"),
            ("${P##*/}", "c.tar.gz"),
            ("${P%/*}", "a/b"),
            ("${P%%/*}", "a"),
            ("${P%.*}", "a/b/c.tar"),
            ("${P%%.*}", "a/b/c"),
            ("${A#nomatch}", "busybox:1.36"),
            ("${A%?}", "busybox:1.3"),
            ("${S#a\\*}", "b"),
            ("${X#x}", ""),
            ("${A/:/-}", "busybox-1.36"),
            ("${P/\\//-}", "a-b/c.tar.gz"),
            ("${P//\\//-}", "a-b-c.tar.gz"),
            ("${A/b*/x}", "x"),
            ("${I/-*/}", "idle"),
            ("${A/$I/x}", "busybox:1.36"),
            ("${I#${I%%-*}}", "-alpine"),
            ("img-${TARGETARCH#v}", "img-${TARGETARCH#v}"),
        ];
        for (word, expected) in cases {
            assert_eq!(run(word, &vars).as_deref(), Ok(expected), "{word}");
        }
    }

    #[test]
    fn substitution_errors() {
        assert_eq!(run("${A", &[]), Err(ExpandError::Syntax));
        assert_eq!(run("${}", &[]), Err(ExpandError::Syntax));
        assert_eq!(run("${A:#x}", &[("A", "1")]), Err(ExpandError::Unsupported));
        assert_eq!(run("${A:%x}", &[("A", "1")]), Err(ExpandError::Unsupported));
        assert_eq!(run("${A/x}", &[("A", "1")]), Err(ExpandError::Syntax));
        assert_eq!(run("${A#\\x}", &[("A", "1")]), Err(ExpandError::Unsupported));
        assert_eq!(
            run("${A:?set A}", &[]),
            Err(ExpandError::Required { name: "A".into(), message: "set A".into() })
        );
        assert_eq!(run("${A:?set A}", &[("A", "1")]).as_deref(), Ok("1"));
        assert_eq!(
            run("${A:?}", &[("A", "")]),
            Err(ExpandError::Required { name: "A".into(), message: "it has no value".into() })
        );
        assert_eq!(
            run("${A?$B}", &[("B", "set A")]),
            Err(ExpandError::Required { name: "A".into(), message: "set A".into() })
        );
        assert_eq!(run("${A:}", &[("A", "1")]), Err(ExpandError::Unsupported));
        assert_eq!(run("${A:x}", &[("A", "1")]), Err(ExpandError::Unsupported));
    }

    #[test]
    fn words_split_outside_quotes() {
        let cases: [(&str, &[&str]); 6] = [
            ("A=1 B", &["A=1", "B"]),
            ("${X:-a b} AS c", &["${X:-a b}", "AS", "c"]),
            ("'${' x", &["'${'", "x"]),
            ("  A=\"x y\"   B='p q' ", &["A=\"x y\"", "B='p q'"]),
            ("a\\ b c", &["a\\ b", "c"]),
            ("", &[]),
        ];
        for (text, expected) in cases {
            assert_eq!(split_words(text, '\\'), expected, "{text}");
        }
    }
}
