//! Normalisation of names and free text before comparison.
//!
//! German names are spelled inconsistently across systems (Müller, Mueller,
//! MÜLLER, Muller). Exact-match linkage compares normalised forms: lower case,
//! umlauts and ß transliterated, other diacritics dropped, everything but letters
//! removed.

/// Normalises a name for comparison: `"Müller-Lüdenscheidt "` → `"muellerluedenscheidt"`.
pub fn normalise_name(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars().flat_map(char::to_lowercase) {
        match c {
            'ä' | 'æ' => out.push_str("ae"),
            'ö' | 'ø' | 'œ' => out.push_str("oe"),
            'ü' => out.push_str("ue"),
            'ß' => out.push_str("ss"),
            'à' | 'á' | 'â' | 'ã' | 'å' => out.push('a'),
            'ç' | 'č' | 'ć' => out.push('c'),
            'è' | 'é' | 'ê' | 'ë' => out.push('e'),
            'ì' | 'í' | 'î' | 'ï' => out.push('i'),
            'ñ' | 'ń' => out.push('n'),
            'ò' | 'ó' | 'ô' | 'õ' => out.push('o'),
            'ù' | 'ú' | 'û' => out.push('u'),
            'ý' | 'ÿ' => out.push('y'),
            'š' | 'ś' => out.push('s'),
            'ž' | 'ź' | 'ż' => out.push('z'),
            'ł' => out.push('l'),
            c if c.is_ascii_lowercase() => out.push(c),
            _ => {}
        }
    }
    out
}

/// Normalises free text (street, city): like [`normalise_name`] but keeps digits.
pub fn normalise_text(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for part in s.split(|c: char| c.is_ascii_digit()) {
        out.push_str(&normalise_name(part));
    }
    let digits: String = s.chars().filter(char::is_ascii_digit).collect();
    out.push_str(&digits);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn umlauts_and_case() {
        assert_eq!(normalise_name("Müller"), normalise_name("MUELLER"));
        assert_eq!(normalise_name("Groß"), "gross");
        assert_eq!(normalise_name(" Anne-Marie "), "annemarie");
        assert_eq!(normalise_text("Hauptstr. 12a"), "hauptstra12");
    }
}
