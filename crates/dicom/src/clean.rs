//! Clean Descriptors: free text (study and series descriptions, comments,
//! protocol names) keeps its meaning but loses what identifies the person.
//!
//! Two kinds of content are masked, each character replaced by `*` so that a
//! value never grows past its VR's length limit:
//! - the person's own identifying strings, given by the caller (the names
//!   and identifiers of the trust centre's IDAT, split into words) and taken
//!   from the object itself (every value the profile removes or replaces:
//!   names split into words, other values as whole phrases), matched as
//!   whole words, case-insensitively;
//! - common identifier patterns: runs of digits and date separators holding
//!   five or more digits (record and insurance numbers, phone numbers, dates
//!   such as `19.01.2004`), and words containing `@` (e-mail addresses).

/// Masks identifying content in free text.
#[derive(Debug, Clone, Default)]
pub struct DescriptorCleaner {
    /// Upper-cased words to mask wherever they stand as whole words.
    words: Vec<Vec<char>>,
}

impl DescriptorCleaner {
    /// A cleaner for one person's `identifiers` (names are split at `^`,
    /// spaces, commas and hyphens; parts shorter than two letters are ignored).
    pub fn new<'a>(identifiers: impl IntoIterator<Item = &'a str>) -> Self {
        let mut words: Vec<Vec<char>> = Vec::new();
        for id in identifiers {
            for part in id.split(['^', ' ', ',', '=', '\\', '-', '/']) {
                let part = part.trim_matches(|c: char| !c.is_alphanumeric());
                if part.chars().count() >= 2 {
                    let w: Vec<char> = part.to_uppercase().chars().collect();
                    if !words.contains(&w) {
                        words.push(w);
                    }
                }
            }
        }
        let mut cleaner = Self { words };
        cleaner.sort();
        cleaner
    }

    /// Also masks `phrase` as a whole (an institution's or a device's name,
    /// an accession number: words that are common alone, telling together).
    pub fn with_phrases<'a>(mut self, phrases: impl IntoIterator<Item = &'a str>) -> Self {
        for phrase in phrases {
            let w: Vec<char> = phrase.trim().to_uppercase().chars().collect();
            if w.len() >= 2 && !self.words.contains(&w) {
                self.words.push(w);
            }
        }
        self.sort();
        self
    }

    /// Longest first, so a longer identifier is masked whole.
    fn sort(&mut self) {
        self.words.sort_by_key(|w| std::cmp::Reverse(w.len()));
    }

    /// `text` with identifying content masked, and whether anything was.
    pub fn clean(&self, text: &str) -> (String, bool) {
        let chars: Vec<char> = text.chars().collect();
        let upper: Vec<char> = chars
            .iter()
            .map(|c| c.to_uppercase().next().unwrap_or(*c))
            .collect();
        let mut masked = vec![false; chars.len()];
        let boundary =
            |i: Option<usize>| i.is_none_or(|i| i >= chars.len() || !chars[i].is_alphanumeric());
        for word in &self.words {
            let n = word.len();
            let mut i = 0;
            while i + n <= upper.len() {
                if upper[i..i + n] == word[..]
                    && boundary(i.checked_sub(1))
                    && boundary(Some(i + n))
                {
                    masked[i..i + n].iter_mut().for_each(|m| *m = true);
                    i += n;
                } else {
                    i += 1;
                }
            }
        }
        mask_patterns(&chars, &mut masked);
        let changed = masked.iter().any(|m| *m);
        let out = chars
            .iter()
            .zip(&masked)
            .map(|(c, m)| if *m { '*' } else { *c })
            .collect();
        (out, changed)
    }
}

/// Marks digit runs (with `.`, `/`, `-`, `:` and spaces inside) of five or
/// more digits, and words containing `@`.
fn mask_patterns(chars: &[char], masked: &mut [bool]) {
    let mut i = 0;
    while i < chars.len() {
        if chars[i].is_ascii_digit() {
            let start = i;
            let mut end = i;
            let mut digits = 0;
            let mut j = i;
            while j < chars.len()
                && (chars[j].is_ascii_digit()
                    || (matches!(chars[j], '.' | '/' | '-' | ':' | ' ')
                        && chars.get(j + 1).is_some_and(char::is_ascii_digit)))
            {
                if chars[j].is_ascii_digit() {
                    digits += 1;
                    end = j + 1;
                }
                j += 1;
            }
            if digits >= 5 {
                masked[start..end].iter_mut().for_each(|m| *m = true);
            }
            i = j.max(i + 1);
        } else {
            i += 1;
        }
    }
    let mut start = 0;
    for (k, c) in chars.iter().chain(std::iter::once(&' ')).enumerate() {
        if c.is_whitespace() {
            if chars[start..k].contains(&'@') {
                masked[start..k].iter_mut().for_each(|m| *m = true);
            }
            start = k + 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_ids_dates_and_addresses_are_masked_meaning_is_kept() {
        let c = DescriptorCleaner::new(["MUSTERMANN^ERIKA", "A123456789", "Wu"]);
        let (out, changed) = c.clean("CT Thorax Mustermann, Erika 19.01.1964 Tel 0201 723-0");
        assert!(changed);
        assert_eq!(out, "CT Thorax **********, ***** ********** Tel **********");
        assert_eq!(c.clean("CT THORAX nativ").0, "CT THORAX nativ");
        // Whole words only: a name inside another word stays.
        assert_eq!(c.clean("WUNDE wu").0, "WUNDE **");
        assert_eq!(c.clean("KVNR A123456789").0, "KVNR **********");
        assert_eq!(
            c.clean("mail erika@example.org now").0,
            "mail ***************** now"
        );
        // Short numbers (series 3, 120 kV) are not identifiers.
        assert_eq!(c.clean("Series 3 120kV 5mm").0, "Series 3 120kV 5mm");
        // A phrase is masked whole, its words alone are not.
        let c = c.with_phrases(["St. Elisabeth Hospital"]);
        assert_eq!(
            c.clean("from ST. ELISABETH HOSPITAL").0,
            "from **********************"
        );
        assert_eq!(c.clean("Hospital scan").0, "Hospital scan");
        let (same, changed) = c.clean("");
        assert!(same.is_empty() && !changed);
    }
}

#[cfg(test)]
mod name_parts {
    use super::DescriptorCleaner;

    #[test]
    fn every_part_of_a_name_is_masked_whatever_the_order_given() {
        let cleaner = DescriptorCleaner::new(["Wilma", "Beispiel", "Beispiel^Wilma"]);
        let (out, changed) = cleaner.clean("Staging Beispiel Wilma");
        assert!(changed);
        assert_eq!(out, "Staging ******** *****");
    }
}
