//! Shell-style words as Dockerfile instructions use them: splitting
//! arguments on unquoted whitespace, and substituting `$VAR`, `${VAR}`,
//! `${VAR:-default}`, `${VAR-default}`, `${VAR:+alt}`, `${VAR+alt}`,
//! `${VAR:?message}` and `${VAR?message}` the way BuildKit does in FROM
//! lines and ARG defaults.

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
    /// A well-formed `${NAME…}` with a modifier this parser does not read
    /// (`%`, `#`, `/`: BuildKit's pattern forms).
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
    expand_into(&chars, escape, lookup, 0, &mut out)?;
    Ok(out)
}

fn expand_into(
    chars: &[char],
    escape: char,
    lookup: &mut dyn FnMut(&str) -> Lookup,
    depth: usize,
    out: &mut String,
) -> Result<(), ExpandError> {
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
                i = expand_reference(chars, i, escape, lookup, depth, out)?;
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
    escape: char,
    lookup: &mut dyn FnMut(&str) -> Lookup,
    depth: usize,
    out: &mut String,
) -> Result<usize, ExpandError> {
    match chars.get(start + 1) {
        Some('{') => expand_braced(chars, start, escape, lookup, depth, out),
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
    escape: char,
    lookup: &mut dyn FnMut(&str) -> Lookup,
    depth: usize,
    out: &mut String,
) -> Result<usize, ExpandError> {
    let name_start = start + 2;
    let mut name_end = name_start;
    while name_end < chars.len() && is_name_char(chars[name_end]) {
        name_end += 1;
    }
    let close = matching_brace(chars, start + 1, escape).ok_or(ExpandError::Syntax)?;
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
    match substitution(modifier, value.as_deref()) {
        Substitution::Value => out.push_str(&value.unwrap_or_default()),
        Substitution::Nothing => {}
        Substitution::Word => expand_into(word, escape, lookup, depth + 1, out)?,
        Substitution::Missing => {
            let mut message = String::new();
            expand_into(word, escape, lookup, depth + 1, &mut message)?;
            if message.is_empty() {
                message = "it has no value".to_string();
            }
            return Err(ExpandError::Required { name, message });
        }
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
}

/// What follows the name in `${…}`: the operator and whether a `:` leads it
/// (then an empty value counts as no value).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Modifier {
    operator: Operator,
    colon: bool,
}

/// The modifier after the name in `${…}` and the word after it; none for a
/// plain `${NAME}`.
fn parse_modifier(rest: &[char]) -> Result<(Option<Modifier>, &[char]), ExpandError> {
    let (colon, operator, word) = match rest {
        [] => return Ok((None, rest)),
        [':', operator, word @ ..] => (true, *operator, word),
        [operator, word @ ..] => (false, *operator, word),
    };
    let operator = match operator {
        '-' => Operator::Default,
        '+' => Operator::Alternative,
        '?' => Operator::Required,
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

fn substitution(modifier: Option<Modifier>, value: Option<&str>) -> Substitution {
    let Some(Modifier { operator, colon }) = modifier else {
        return Substitution::Value;
    };
    // The `:` forms take an empty value as no value.
    let given = value.is_some_and(|v| !colon || !v.is_empty());
    match (operator, given) {
        (Operator::Default | Operator::Required, true) => Substitution::Value,
        (Operator::Default, false) | (Operator::Alternative, true) => Substitution::Word,
        (Operator::Alternative, false) => Substitution::Nothing,
        (Operator::Required, false) => Substitution::Missing,
    }
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

    #[test]
    fn substitution_errors() {
        assert_eq!(run("${A", &[]), Err(ExpandError::Syntax));
        assert_eq!(run("${}", &[]), Err(ExpandError::Syntax));
        assert_eq!(run("${A#x}", &[("A", "1")]), Err(ExpandError::Unsupported));
        assert_eq!(run("${A%:*}", &[("A", "1")]), Err(ExpandError::Unsupported));
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
