//! A file's text as the model keeps it: the loader reads it plain, then packs it with LZ4
//! once its documents are parsed. Later stages read it only to point at a field's line (a
//! route's, a diagnostic's), so it is unpacked on those rare reads, a few kilobytes at a time:
//! the text is packed in chunks cut at line ends, and a read unpacks the chunks that hold the
//! lines it asks for. Packed, the text of a 10,000-service mesh takes about 3 MB instead of 24.

use std::fmt;

/// The text of one input file, plain or packed.
pub struct SourceText {
    repr: Repr,
}

enum Repr {
    Plain(Box<str>),
    Packed(Box<[Chunk]>, usize),
}

/// Lines `start..start + len` of the text, as an LZ4 block.
struct Chunk {
    start: usize,
    len: usize,
    block: Box<[u8]>,
}

/// About this many bytes a chunk: large enough to pack well (YAML repeats itself across
/// objects), small enough to unpack in a microsecond or two.
const CHUNK: usize = 8 * 1024;

impl SourceText {
    pub fn plain(text: impl Into<Box<str>>) -> SourceText {
        SourceText {
            repr: Repr::Plain(text.into()),
        }
    }

    /// The same text, packed.
    pub fn packed(&self) -> SourceText {
        self.with(|text| {
            let mut chunks = Vec::with_capacity(text.len() / CHUNK + 1);
            let mut start = 0;
            while start < text.len() {
                // Up to the end of the line that crosses the chunk size, or the end.
                let end = match text.as_bytes().get(start + CHUNK..) {
                    None => text.len(),
                    Some(rest) => rest
                        .iter()
                        .position(|&b| b == b'\n')
                        .map_or(text.len(), |i| start + CHUNK + i + 1),
                };
                chunks.push(Chunk {
                    start,
                    len: end - start,
                    block: lz4_flex::block::compress(&text.as_bytes()[start..end]).into(),
                });
                start = end;
            }
            SourceText {
                repr: Repr::Packed(chunks.into(), text.len()),
            }
        })
    }

    /// The length of the text in bytes.
    pub fn len(&self) -> usize {
        match &self.repr {
            Repr::Plain(t) => t.len(),
            Repr::Packed(_, len) => *len,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Runs `f` on the text, unpacking it for the call when it is packed.
    pub fn with<R>(&self, f: impl FnOnce(&str) -> R) -> R {
        self.with_range(0..self.len(), f)
    }

    /// Runs `f` on bytes `range` of the text (empty when the range is not within the text or
    /// does not fall on character boundaries), unpacking only the chunks that hold them.
    pub fn with_range<R>(&self, range: std::ops::Range<usize>, f: impl FnOnce(&str) -> R) -> R {
        match &self.repr {
            Repr::Plain(t) => f(t.get(range).unwrap_or("")),
            Repr::Packed(chunks, _) => {
                let first = chunks.partition_point(|c| c.start + c.len <= range.start);
                let mut bytes = Vec::new();
                let mut base = None;
                for c in chunks.iter().skip(first) {
                    if c.start >= range.end && base.is_some() {
                        break;
                    }
                    base.get_or_insert(c.start);
                    // A chunk unpacks to the bytes it was made from (`packed`); a failure,
                    // which cannot happen, leaves the text short and the range empty.
                    match lz4_flex::block::decompress(&c.block, c.len) {
                        Ok(b) => bytes.extend_from_slice(&b),
                        Err(_) => break,
                    }
                }
                let base = base.unwrap_or(0);
                let local = range.start.saturating_sub(base)..range.end.saturating_sub(base);
                // Only the range is checked for UTF-8: the chunks around it need not be read.
                let text = bytes.get(local).and_then(|b| std::str::from_utf8(b).ok());
                f(text.unwrap_or(""))
            }
        }
    }
}

impl fmt::Debug for SourceText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.repr {
            Repr::Plain(t) => write!(f, "SourceText({} bytes)", t.len()),
            Repr::Packed(chunks, len) => {
                let packed: usize = chunks.iter().map(|c| c.block.len()).sum();
                write!(f, "SourceText({len} bytes packed in {packed})")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn packed_text_reads_back_as_written(
            text in "(\\PC{0,200}\n){0,80}",
            a in 0usize..40_000,
            b in 0usize..40_000,
        ) {
            let plain = SourceText::plain(text.as_str());
            let packed = plain.packed();
            prop_assert_eq!(packed.len(), text.len());
            prop_assert_eq!(packed.with(str::to_string), text.clone());
            prop_assert_eq!(plain.with(str::to_string), text.clone());
            let (a, b) = (a.min(b) % (text.len() + 1), a.max(b) % (text.len() + 1));
            let (a, b) = (a.min(b), a.max(b));
            let want = text.get(a..b).unwrap_or("").to_string();
            prop_assert_eq!(packed.with_range(a..b, str::to_string), want.clone());
            prop_assert_eq!(plain.with_range(a..b, str::to_string), want);
        }
    }

    #[test]
    fn a_range_reads_only_the_chunks_that_hold_it() {
        let line = "key: value value value value value value value value value value\n";
        let text = line.repeat(1000);
        let packed = SourceText::plain(text.as_str()).packed();
        let Repr::Packed(chunks, _) = &packed.repr else {
            panic!("not packed")
        };
        assert!(chunks.len() > 5, "{} chunks", chunks.len());
        assert!(chunks
            .iter()
            .all(|c| text[..c.start + c.len].ends_with('\n')));
        let mid = text.len() / 2 - text.len() / 2 % line.len();
        assert_eq!(
            packed.with_range(mid..mid + line.len(), str::to_string),
            line
        );
        let (from, to) = (5, 2);
        assert_eq!(packed.with_range(from..to, str::to_string), "");
        assert_eq!(packed.with_range(0..text.len() + 1, str::to_string), "");
    }
}
