//! Edit lists (GA4GH Crypt4GH v1, section 4.3): alternating numbers of
//! plaintext bytes to skip and to keep, starting with a skip, applied to the
//! whole plaintext stream across segment boundaries. After the last length,
//! an odd-length list (ending with a skip) keeps everything that follows; an
//! even-length list (ending with a keep) discards it.

use crate::error::Crypt4ghError;

/// Where a reader is in an edit list.
#[derive(Clone, Debug)]
pub(crate) struct EditState {
    lengths: Vec<u64>,
    /// The current entry (even: skip, odd: keep); `lengths.len()` past the end.
    index: usize,
    /// Bytes left in the current entry.
    remaining: u64,
}

impl EditState {
    pub(crate) fn new(lengths: Vec<u64>) -> Self {
        let remaining = lengths.first().copied().unwrap_or(0);
        let mut state = Self {
            lengths,
            index: 0,
            remaining,
        };
        state.settle();
        state
    }

    pub(crate) fn lengths(&self) -> &[u64] {
        &self.lengths
    }

    /// Moves past entries with nothing left.
    fn settle(&mut self) {
        while self.index < self.lengths.len() && self.remaining == 0 {
            self.index += 1;
            self.remaining = self.lengths.get(self.index).copied().unwrap_or(0);
        }
    }

    /// Whether nothing more will be kept (an even-length list used up).
    pub(crate) fn is_done(&self) -> bool {
        self.index >= self.lengths.len() && self.lengths.len().is_multiple_of(2)
    }

    /// Applies the list to the next plaintext bytes: moves the kept bytes to
    /// the front of `data` and returns how many there are.
    pub(crate) fn apply(&mut self, data: &mut [u8]) -> usize {
        let (mut pos, mut out) = (0, 0);
        while pos < data.len() {
            if self.index >= self.lengths.len() {
                if self.lengths.len() % 2 == 1 {
                    data.copy_within(pos.., out);
                    out += data.len() - pos;
                }
                break;
            }
            let take = usize::try_from(self.remaining)
                .unwrap_or(usize::MAX)
                .min(data.len() - pos);
            if self.index % 2 == 1 {
                data.copy_within(pos..pos + take, out);
                out += take;
            }
            pos += take;
            self.remaining -= take as u64;
            self.settle();
        }
        out
    }

    /// At the end of the data: refuses a list that still had bytes to keep
    /// (the file is shorter than its edit list says: truncated, or a bad list).
    pub(crate) fn check_end(&self) -> Result<(), Crypt4ghError> {
        let keeping_now = self.index % 2 == 1 && self.remaining > 0;
        let keeps_later = self
            .lengths
            .iter()
            .enumerate()
            .skip(self.index + 1)
            .any(|(i, &len)| i % 2 == 1 && len > 0);
        if self.index < self.lengths.len() && (keeping_now || keeps_later) {
            return Err(Crypt4ghError::EditList(format!(
                "the data ends before the edit list does (at entry {} of {}): truncated file or an edit list past the end",
                self.index,
                self.lengths.len()
            )));
        }
        Ok(())
    }
}

/// The bytes of `plaintext` an edit list keeps: the reference the decryptor
/// is tested against (the spec's definition, written as plainly as possible).
pub fn apply_edit_list(plaintext: &[u8], lengths: &[u64]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut pos: usize = 0;
    for (i, &len) in lengths.iter().enumerate() {
        let end = pos
            .saturating_add(usize::try_from(len).unwrap_or(usize::MAX))
            .min(plaintext.len());
        if i % 2 == 1 {
            out.extend_from_slice(&plaintext[pos..end]);
        }
        pos = end;
    }
    if lengths.len() % 2 == 1 {
        out.extend_from_slice(&plaintext[pos..]);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(lengths: &[u64], data: &[u8], chunk: usize) -> Vec<u8> {
        let mut state = EditState::new(lengths.to_vec());
        let mut out = Vec::new();
        for piece in data.chunks(chunk) {
            let mut piece = piece.to_vec();
            let n = state.apply(&mut piece);
            out.extend_from_slice(&piece[..n]);
        }
        out
    }

    #[test]
    fn skip_keep_pairs_and_odd_lists() {
        let data: Vec<u8> = (0..100).collect();
        for chunk in [1, 3, 7, 64, 100] {
            assert_eq!(run(&[10, 5], &data, chunk), (10..15).collect::<Vec<u8>>());
            assert_eq!(run(&[10], &data, chunk), (10..100).collect::<Vec<u8>>());
            assert_eq!(
                run(&[0, 2, 3, 1, 90], &data, chunk),
                vec![0, 1, 5, 96, 97, 98, 99]
            );
            assert_eq!(run(&[0, 0, 5], &data, chunk), (5..100).collect::<Vec<u8>>());
            for lengths in [&[3u64, 4, 0, 2][..], &[1, 1, 1, 1, 1], &[99, 1], &[200]] {
                assert_eq!(
                    run(lengths, &data, chunk),
                    apply_edit_list(&data, lengths),
                    "{lengths:?} by {chunk}"
                );
            }
        }
    }

    #[test]
    fn end_checks() {
        let mut s = EditState::new(vec![2, 10]);
        let mut d = [0u8; 5];
        assert_eq!(s.apply(&mut d), 3);
        assert!(s.check_end().is_err(), "7 bytes to keep are missing");
        let mut s = EditState::new(vec![2, 3]);
        s.apply(&mut d);
        assert!(s.is_done() && s.check_end().is_ok());
        let mut s = EditState::new(vec![10]);
        s.apply(&mut d);
        assert!(
            s.check_end().is_ok(),
            "a final skip past the end keeps nothing"
        );
        let mut s = EditState::new(vec![10, 1]);
        s.apply(&mut d);
        assert!(s.check_end().is_err());
        let mut s = EditState::new(vec![10, 0, 3]);
        s.apply(&mut d);
        assert!(
            s.check_end().is_ok(),
            "an empty keep past the end asks for nothing"
        );
    }
}
