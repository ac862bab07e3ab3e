//! Byte offsets to 1-based line and column.
//!
//! Columns count Unicode scalar values, so a caret drawn under the `n`-th
//! character of a line lands where an editor puts it for non-ASCII text.

/// Line starts of a text, for repeated offset lookups.
pub(crate) struct LineIndex<'a> {
    text: &'a str,
    starts: Vec<usize>,
}

impl<'a> LineIndex<'a> {
    pub(crate) fn new(text: &'a str) -> Self {
        let starts = std::iter::once(0)
            .chain(
                text.bytes()
                    .enumerate()
                    .filter(|(_, b)| *b == b'\n')
                    .map(|(i, _)| i + 1),
            )
            .collect();
        LineIndex { text, starts }
    }

    /// Line and column of the character that starts at (or contains) `offset`.
    pub(crate) fn position(&self, offset: usize) -> (u32, u32) {
        let mut offset = offset.min(self.text.len());
        while !self.text.is_char_boundary(offset) {
            offset -= 1;
        }
        let line = self.starts.partition_point(|&s| s <= offset);
        let start = self.starts[line.saturating_sub(1)];
        let column = self.text[start..offset].chars().count() + 1;
        (saturate(line), saturate(column))
    }

    /// Converts serde_json's position (1-based line, byte count consumed on
    /// that line, 0 when nothing was) into ours.
    pub(crate) fn serde_position(&self, line: usize, byte_column: usize) -> (u32, u32) {
        let Some(&start) = self.starts.get(line.saturating_sub(1)) else {
            return self.position(self.text.len());
        };
        self.position(start + byte_column.saturating_sub(1))
    }
}

fn saturate(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests {
    use super::LineIndex;

    #[test]
    fn counts_characters_not_bytes() {
        let idx = LineIndex::new("é\"x\"\nab");
        assert_eq!(idx.position(0), (1, 1));
        assert_eq!(idx.position(2), (1, 2));
        assert_eq!(idx.position(6), (2, 1));
        assert_eq!(idx.position(7), (2, 2));
        assert_eq!(idx.position(99), (2, 3));
    }

    #[test]
    fn serde_positions_point_at_the_last_consumed_byte() {
        let idx = LineIndex::new("{\n  x");
        assert_eq!(idx.serde_position(2, 3), (2, 3));
        assert_eq!(idx.serde_position(1, 0), (1, 1));
    }
}
