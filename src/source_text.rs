//! Reading outside text (spec and rule files) and pointing into it, shared by
//! every loader so their errors name files, lines and columns the same way.

use std::path::Path;

use crate::error::{Error, Result};

/// Reads `path` to text; the error names `what` and the file.
pub(crate) fn read_file(path: &Path, what: &str) -> Result<String> {
    std::fs::read_to_string(path).map_err(|e| {
        Error::config(format!("cannot read {what} from {}: {e}", path.display()))
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
