//! List inputs read the way docker/build-push-action reads them: as CSV
//! (csv-parse with `relax_quotes`, `relax_column_count` and
//! `skip_empty_lines`), so a value in double quotes may hold commas and
//! line breaks, and `""` inside it is one `"`.
//!
//! The rules, as that parser applies them:
//! - records end at a line break: the first one met outside quotes (`\r\n`,
//!   `\n` or `\r`) is the only one from then on; empty lines are skipped;
//! - fields end at `,`; a `"` opens a quoted field only as a field's first
//!   character, elsewhere it is an ordinary character;
//! - a quoted field ends at a `"` followed by `,`, a line break or the end;
//!   a `"` followed by anything else ends the quoting and the field goes on
//!   as written, its quotes kept;
//! - a quote left open at the end is an error.

/// A quoted field that is never closed; `line` is where its quote opens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct QuoteNotClosed {
    pub(crate) line: usize,
}

const QUOTE: char = '"';
const DELIMITER: char = ',';

/// The line break at `at`, if any: `\r\n`, `\n` or `\r`.
fn line_break_at(chars: &[char], at: usize) -> Option<&'static [char]> {
    const BREAKS: [&[char]; 3] = [&['\r', '\n'], &['\n'], &['\r']];
    BREAKS.into_iter().find(|b| chars[at..].starts_with(b))
}

/// The records of `text`, each a list of fields.
pub(crate) fn records(text: &str) -> Result<Vec<Vec<String>>, QuoteNotClosed> {
    let chars: Vec<char> = text.chars().collect();
    let mut records = Vec::new();
    let mut record: Vec<String> = Vec::new();
    let mut field = String::new();
    // The record delimiter, fixed by the first line break outside quotes.
    let mut row_break: Option<&'static [char]> = None;
    let (mut quoting, mut was_quoting, mut escaping) = (false, false, false);
    let mut opened_at = 0;
    let mut pos = 0;
    while pos < chars.len() {
        if !quoting && row_break.is_none() {
            row_break = line_break_at(&chars, pos);
        }
        let c = chars[pos];
        if escaping {
            escaping = false;
        } else {
            if quoting && c == QUOTE && chars.get(pos + 1) == Some(&QUOTE) {
                escaping = true;
                pos += 1;
                continue;
            }
            if c == QUOTE {
                if quoting {
                    let next = pos + 1;
                    let ends = next == chars.len()
                        || chars[next] == DELIMITER
                        || match row_break {
                            Some(b) => chars[next..].starts_with(b),
                            None => {
                                row_break = line_break_at(&chars, next);
                                row_break.is_some()
                            }
                        };
                    quoting = false;
                    was_quoting = true;
                    if ends {
                        pos += 1;
                        continue;
                    }
                    // Not a closing quote after all: the field is kept as
                    // written, with both quotes.
                    field.insert(0, QUOTE);
                } else if field.is_empty() {
                    quoting = true;
                    opened_at = pos;
                    pos += 1;
                    continue;
                }
            }
            if !quoting {
                if let Some(b) = row_break.filter(|b| chars[pos..].starts_with(b)) {
                    if was_quoting || !record.is_empty() || !field.is_empty() {
                        record.push(std::mem::take(&mut field));
                        records.push(std::mem::take(&mut record));
                    }
                    was_quoting = false;
                    pos += b.len();
                    continue;
                }
                if c == DELIMITER {
                    record.push(std::mem::take(&mut field));
                    was_quoting = false;
                    pos += 1;
                    continue;
                }
            }
        }
        field.push(c);
        pos += 1;
    }
    if quoting {
        let line = 1 + chars[..opened_at].iter().filter(|c| **c == '\n').count();
        return Err(QuoteNotClosed { line });
    }
    if was_quoting || !record.is_empty() || !field.is_empty() {
        record.push(field);
        records.push(record);
    }
    Ok(records)
}

/// A list input's items, as docker/actions-toolkit's `Util.getList` gives
/// them: a record of one field is one item; a record of several is one item
/// with its fields joined by `,` when `ignore_comma` (the input's items may
/// hold commas), else each field (and a lone field split at its commas) is
/// an item. Empty items are left out; with `trim`, items are trimmed.
pub(crate) fn list(
    text: &str,
    ignore_comma: bool,
    trim: bool,
) -> Result<Vec<String>, QuoteNotClosed> {
    let mut items = Vec::new();
    for record in records(text)? {
        match (record.len(), ignore_comma) {
            (1, true) => items.extend(record),
            (1, false) => items.extend(record[0].split(DELIMITER).map(str::to_string)),
            (_, false) => items.extend(record),
            (_, true) => items.push(record.join(",")),
        }
    }
    Ok(items
        .into_iter()
        .filter(|item| !item.is_empty())
        .map(|item| if trim { item.trim().to_string() } else { item })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// (input, items with `ignore_comma` and no trimming), each checked
    /// against csv-parse 7 with docker/actions-toolkit's options.
    const SECRETS_CASES: &[(&str, &[&str])] = &[
        ("A=1", &["A=1"]),
        ("A=1\nB=2\n", &["A=1", "B=2"]),
        ("A=1\r\nB=2", &["A=1", "B=2"]),
        ("A=1\n\n\nB=2", &["A=1", "B=2"]),
        // Commas stay inside an item.
        ("TOKEN=abc,def=123", &["TOKEN=abc,def=123"]),
        // Docker's documented JSON example: doubled quotes are one quote.
        (r#""JSON_SECRET={""key1"":""value1""}""#, &[r#"JSON_SECRET={"key1":"value1"}"#]),
        // A quoted entry spans lines, empty ones included, and keeps a
        // trailing line break inside its quotes.
        ("\"KEY=one\ntwo\n\nthree\"\nNEXT=x", &["KEY=one\ntwo\n\nthree", "NEXT=x"]),
        ("\"KEY=one\ntwo\n\n\"", &["KEY=one\ntwo\n\n"]),
        ("\"KEY=a\"\"b\nc\"", &["KEY=a\"b\nc"]),
        // A quote that does not open the field is an ordinary character:
        // the value keeps its quotes, and does not span lines.
        ("KEY=\"a\"", &["KEY=\"a\""]),
        ("KEY=\"a\nb\"", &["KEY=\"a", "b\""]),
        ("KEY=a\"\"b", &["KEY=a\"\"b"]),
        // Unquoted lines are items of their own.
        ("KEY=one\ntwo", &["KEY=one", "two"]),
        // A quote closed before other characters is no quoting at all.
        ("\"KEY=a\"x", &["\"KEY=a\"x"]),
        ("\"KEY=a\"  ", &["\"KEY=a\"  "]),
        ("\"KEY=a\" ,b", &["\"KEY=a\" ,b"]),
        // Quoted fields of one record are joined by commas, unquoted.
        ("\"A=1\",\"B=2\"", &["A=1,B=2"]),
        ("\"KEY=a\",b", &["KEY=a,b"]),
        // Spaces are kept.
        (" KEY = v ", &[" KEY = v "]),
        ("  \"KEY=a\"", &["  \"KEY=a\""]),
        // An empty quoted field is an empty item, left out.
        ("\"\"\nA=1", &["A=1"]),
    ];

    #[test]
    fn secrets_read_as_build_push_action_reads_them() {
        for (text, expected) in SECRETS_CASES {
            assert_eq!(list(text, true, false).unwrap(), *expected, "{text:?}");
        }
    }

    #[test]
    fn comma_lists_split_and_trim() {
        let cases: &[(&str, &[&str])] = &[
            ("A=X,B=Y", &["A=X", "B=Y"]),
            ("A=X\nB=Y, C=Z", &["A=X", "B=Y", "C=Z"]),
            ("\"A=X\"\n B=Y ", &["A=X", "B=Y"]),
            ("A=X,", &["A=X"]),
        ];
        for (text, expected) in cases {
            assert_eq!(list(text, false, true).unwrap(), *expected, "{text:?}");
        }
        assert_eq!(list("ID=\"./my file\"", true, true).unwrap(), ["ID=\"./my file\""]);
        assert_eq!(list("\"ID=./a,b\"", true, true).unwrap(), ["ID=./a,b"]);
    }

    #[test]
    fn a_quote_left_open_is_an_error_naming_its_line() {
        assert_eq!(list("\"KEY=abc", true, false), Err(QuoteNotClosed { line: 1 }));
        assert_eq!(list("A=1\nB=2\n\"C=3\nmore", true, false), Err(QuoteNotClosed { line: 3 }));
        assert_eq!(list("x,\"y", true, false), Err(QuoteNotClosed { line: 1 }));
        assert_eq!(list("\"KEY=a\"\"", true, false), Err(QuoteNotClosed { line: 1 }));
    }
}
