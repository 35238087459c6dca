//! Reading outside text (spec and rule files) and pointing into it, shared by
//! every loader so their errors name files, lines, columns and TOML key paths
//! the same way.

use std::path::Path;

use serde::de::DeserializeOwned;

use crate::error::{Error, Result};

/// Reads `path` to text; the error names `what` and the file.
pub(crate) fn read_file(path: &Path, what: &str) -> Result<String> {
    std::fs::read_to_string(path).map_err(|e| {
        Error::config(format!("cannot read {what} from {}", path.display()))
            .with_file(path.display().to_string(), None, None)
            .with_source(e)
    })
}

/// 1-based line and column (in characters) of byte `offset` in `text`.
pub(crate) fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let mut offset = offset.min(text.len());
    while !text.is_char_boundary(offset) {
        offset -= 1; // inside a character: point at its start
    }
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let column = before[line_start..].chars().count() + 1;
    (line, column)
}

/// Parses `text` as TOML into `T`; a syntax or type error names `source`,
/// the line and the column, and — when the error points into a value — the
/// key path (`price_lists[2].tiers[1].min_quantity`) and the rule it belongs
/// to (the `id`, `sku` or `currency` of the top-level entry).
pub(crate) fn from_toml<T: DeserializeOwned>(text: &str, what: &str, source: &str) -> Result<T> {
    toml::from_str(text).map_err(|e| {
        let span = e.span();
        let (line, column) = span
            .as_ref()
            .map(|span| {
                let (l, c) = line_column(text, span.start);
                (l as u64, c as u64)
            })
            .unzip();
        let place = match (line, column) {
            (Some(l), Some(c)) => format!("{source}:{l}:{c}"),
            _ => source.to_string(),
        };
        let message = e.message().trim_end();
        let key = span.and_then(|s| key_path(text, s.start));
        let err = match key {
            Some((path, rule)) => {
                let rule = rule.map_or(String::new(), |r| format!(" (rule \"{r}\")"));
                Error::config(format!("{what} at {place}: {path}{rule}: {message}"))
                    .with_field(path)
            }
            None => Error::config(format!("{what} at {place}: {message}")),
        };
        err.with_file(source, line, column)
    })
}

/// One step of a key path: a table key or an array index.
enum Seg<'a> {
    Key(&'a str),
    Index(usize),
}

/// The key path of the deepest key or value at byte `offset` of `text`, and
/// the rule (the `id`, `sku` or `currency` of the top-level entry) it is in.
/// `None` when the text does not parse or nothing is there.
fn key_path(text: &str, offset: usize) -> Option<(String, Option<String>)> {
    use toml::de::{DeTable, DeValue};
    let doc = DeTable::parse(text).ok()?;
    let root = doc.get_ref();
    let mut segs = Vec::new();
    if !find_in_table(root, offset, &mut segs) {
        return None;
    }
    let mut path = String::new();
    for seg in &segs {
        match seg {
            Seg::Key(k) if path.is_empty() => path.push_str(k),
            Seg::Key(k) => {
                path.push('.');
                path.push_str(k);
            }
            Seg::Index(i) => path.push_str(&format!("[{i}]")),
        }
    }
    // The rule: the top-level entry (an element of an array of tables, or a table).
    let top = match segs.first() {
        Some(Seg::Key(k)) => root.iter().find(|(key, _)| key.get_ref() == k),
        _ => None,
    };
    let entry = match (top.map(|(_, v)| v.get_ref()), segs.get(1)) {
        (Some(DeValue::Array(items)), Some(Seg::Index(i))) => items.get(*i).map(|v| v.get_ref()),
        (Some(v @ DeValue::Table(_)), _) => Some(v),
        _ => None,
    };
    let rule = match entry {
        Some(DeValue::Table(t)) => ["id", "sku", "currency"].iter().find_map(|name| {
            t.iter()
                .find(|(k, _)| k.get_ref() == name)
                .and_then(|(_, v)| v.get_ref().as_str().map(str::to_owned))
        }),
        _ => None,
    };
    Some((path, rule))
}

fn contains(span: std::ops::Range<usize>, offset: usize) -> bool {
    span.start <= offset && (offset < span.end || span.start == span.end)
}

fn find_in_table<'a>(
    table: &'a toml::de::DeTable<'_>,
    offset: usize,
    segs: &mut Vec<Seg<'a>>,
) -> bool {
    for (k, v) in table.iter() {
        segs.push(Seg::Key(k.get_ref()));
        if find_in_value(v.get_ref(), offset, segs)
            || contains(k.span(), offset)
            || contains(v.span(), offset)
        {
            return true;
        }
        segs.pop();
    }
    false
}

/// Descends into tables and arrays; a table's own span may not cover its
/// entries (arrays of tables), so every child is tried.
fn find_in_value<'a>(
    value: &'a toml::de::DeValue<'_>,
    offset: usize,
    segs: &mut Vec<Seg<'a>>,
) -> bool {
    use toml::de::DeValue;
    match value {
        DeValue::Table(t) => find_in_table(t, offset, segs),
        DeValue::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                segs.push(Seg::Index(i));
                if find_in_value(item.get_ref(), offset, segs) || contains(item.span(), offset) {
                    return true;
                }
                segs.pop();
            }
            false
        }
        _ => false,
    }
}

/// Parses and checks rules from TOML text (`source` names it in messages).
pub(crate) fn parse_rules<T: DeserializeOwned>(
    text: &str,
    what: &str,
    source: &str,
    validate: impl FnOnce(&T) -> Result<()>,
) -> Result<T> {
    let rules: T = from_toml(text, what, source)?;
    validate(&rules)?;
    Ok(rules)
}

/// Reads, parses and checks a TOML rule file; errors name the file, line and column.
pub(crate) fn load_rules<T: DeserializeOwned>(
    path: &Path,
    what: &str,
    validate: impl FnOnce(&T) -> Result<()>,
) -> Result<T> {
    let text = read_file(path, what)?;
    let name = path.display().to_string();
    parse_rules(&text, what, &name, |r| {
        validate(r).map_err(|e| e.with_file(name.clone(), None, None))
    })
}

#[cfg(test)]
mod tests {
    use super::line_column;

    #[test]
    fn lines_and_columns_count_characters_and_survive_odd_offsets() {
        let text = "a = 1\nnäme = ?\n";
        assert_eq!(line_column(text, 0), (1, 1));
        assert_eq!(line_column(text, 8), (2, 2)); // inside 'ä' (bytes 7..9)
        assert_eq!(line_column(text, text.find('?').unwrap()), (2, 8));
        assert_eq!(line_column(text, 1_000), (3, 1));
    }
}
