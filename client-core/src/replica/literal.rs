//! Rows in the change table travel as SQL literal lists, the text SQLite's `quote()` makes
//! (`1,-2.5,'it''s',X'00FF',NULL`): exact for every value (`quote()` prints a real with as many
//! digits as round-trip it), written by plain SQL in a trigger, and parsed here, never executed.

use crate::value::Value;

/// Why a literal list did not parse. Carries the offset of the offending byte.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct LiteralError {
    pub offset: usize,
    pub what: &'static str,
}

impl std::fmt::Display for LiteralError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} at byte {}", self.what, self.offset)
    }
}

/// Parses a comma-separated list of `quote()` literals.
pub(crate) fn parse_list(text: &str) -> Result<Vec<Value>, LiteralError> {
    let bytes = text.as_bytes();
    let mut values = Vec::new();
    let mut at = 0;
    if bytes.is_empty() {
        return Ok(values);
    }
    loop {
        let (value, next) = parse_one(text, at)?;
        values.push(value);
        match bytes.get(next) {
            None => return Ok(values),
            Some(b',') => at = next + 1,
            Some(_) => {
                return Err(LiteralError {
                    offset: next,
                    what: "expected a comma between literals",
                })
            }
        }
    }
}

fn parse_one(text: &str, at: usize) -> Result<(Value, usize), LiteralError> {
    let bytes = text.as_bytes();
    let err = |offset, what| Err(LiteralError { offset, what });
    match bytes.get(at) {
        None => err(at, "expected a literal"),
        Some(b'\'') => {
            let mut out = String::new();
            let mut i = at + 1;
            let mut start = i;
            loop {
                match bytes.get(i) {
                    None => return err(at, "unterminated string"),
                    Some(b'\'') if bytes.get(i + 1) == Some(&b'\'') => {
                        out.push_str(&text[start..=i]);
                        i += 2;
                        start = i;
                    }
                    Some(b'\'') => {
                        out.push_str(&text[start..i]);
                        return Ok((Value::Text(out), i + 1));
                    }
                    Some(_) => i += 1,
                }
            }
        }
        Some(b'X' | b'x') if bytes.get(at + 1) == Some(&b'\'') => {
            let start = at + 2;
            let Some(len) = bytes[start..].iter().position(|&b| b == b'\'') else {
                return err(at, "unterminated blob");
            };
            let hex = &bytes[start..start + len];
            if hex.len() % 2 != 0 {
                return err(at, "a blob has an odd number of hex digits");
            }
            let mut blob = Vec::with_capacity(hex.len() / 2);
            for (n, pair) in hex.chunks_exact(2).enumerate() {
                match (nibble(pair[0]), nibble(pair[1])) {
                    (Some(h), Some(l)) => blob.push(h << 4 | l),
                    _ => return err(start + 2 * n, "not a hex digit"),
                }
            }
            Ok((Value::Blob(blob), start + len + 1))
        }
        Some(b'N') if text[at..].starts_with("NULL") => Ok((Value::Null, at + 4)),
        Some(b'-' | b'+' | b'0'..=b'9' | b'.') => {
            let end = bytes[at..]
                .iter()
                .position(|&b| b == b',')
                .map_or(bytes.len(), |n| at + n);
            let number = &text[at..end];
            let is_real = number.contains(['.', 'e', 'E']);
            if !is_real {
                if let Ok(i) = number.parse::<i64>() {
                    return Ok((Value::Integer(i), end));
                }
            }
            match number.parse::<f64>() {
                Ok(r) if is_real || !r.is_nan() => Ok((Value::Float(r), end)),
                _ => err(at, "not a number"),
            }
        }
        Some(_) => err(at, "expected a literal"),
    }
}

fn nibble(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Writes values as a literal list the way `quote()` does, for keys kept in the local
/// progress table.
pub(crate) fn format_list(values: &[Value]) -> String {
    let mut out = String::new();
    for (n, value) in values.iter().enumerate() {
        if n > 0 {
            out.push(',');
        }
        match value {
            Value::Null => out.push_str("NULL"),
            Value::Integer(i) => out.push_str(&i.to_string()),
            Value::Float(r) if r.is_infinite() && *r > 0.0 => out.push_str("9.0e+999"),
            Value::Float(r) if r.is_infinite() => out.push_str("-9.0e+999"),
            Value::Float(r) => out.push_str(&format!("{r:?}")),
            Value::Text(t) => {
                out.push('\'');
                out.push_str(&t.replace('\'', "''"));
                out.push('\'');
            }
            Value::Blob(b) => {
                out.push_str("X'");
                for byte in b {
                    out.push_str(&format!("{byte:02X}"));
                }
                out.push('\'');
            }
        }
    }
    out
}

/// Names as a list of text literals (`'a','b'`): how the registries keep column lists.
pub(crate) fn format_names(names: &[String]) -> String {
    names
        .iter()
        .map(|n| string(n))
        .collect::<Vec<_>>()
        .join(",")
}

/// The names in a list written by [`format_names`]; `None` unless it is a list of text.
pub(crate) fn parse_names(text: &str) -> Option<Vec<String>> {
    parse_list(text)
        .ok()?
        .into_iter()
        .map(|v| match v {
            Value::Text(t) => Some(t),
            _ => None,
        })
        .collect()
}

/// Quotes an SQL identifier: `"name"` with inner quotes doubled.
pub(crate) fn ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// Quotes an SQL string literal.
pub(crate) fn string(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_kind_of_literal() {
        let values = parse_list("1,-9223372036854775808,2.5,-1.0e+300,'it''s, ok',X'00ff',NULL,''")
            .expect("parses");
        assert_eq!(
            values,
            vec![
                Value::Integer(1),
                Value::Integer(i64::MIN),
                Value::Float(2.5),
                Value::Float(-1.0e300),
                Value::Text("it's, ok".into()),
                Value::Blob(vec![0, 255]),
                Value::Null,
                Value::Text(String::new()),
            ]
        );
        assert_eq!(
            parse_list("9.0e+999").expect("inf"),
            vec![Value::Float(f64::INFINITY)]
        );
        assert_eq!(parse_list("").expect("empty"), vec![]);
    }

    #[test]
    fn format_and_parse_round_trip() {
        let values = vec![
            Value::Integer(-7),
            Value::Float(0.1),
            Value::Float(1e-300),
            Value::Float(f64::NEG_INFINITY),
            Value::Text("a'b,c".into()),
            Value::Blob(vec![1, 2, 254]),
            Value::Null,
        ];
        assert_eq!(
            parse_list(&format_list(&values)).expect("round trip"),
            values
        );
    }

    #[test]
    fn malformed_lists_are_errors_not_panics() {
        for bad in [
            "'open", "X'0", "X'zz'", "1 2", "NUL", "1,", ",", "abc", "X'00", "1e", "--1",
        ] {
            assert!(parse_list(bad).is_err(), "{bad:?} parsed");
        }
    }
}
