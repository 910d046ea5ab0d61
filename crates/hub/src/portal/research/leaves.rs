//! The leaf kinds of the criteria language as the builder offers them: each
//! kind's fields, their input types, labels in German and English, and the
//! code list each code field suggests.

/// What kind of value a leaf field takes, for its input and its JSON.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldType {
    /// Free text (a code prefix, a unit).
    Text,
    /// A whole or decimal number.
    Number,
    /// A date `YYYY-MM-DD`.
    Date,
    /// A comma-separated list of texts.
    List,
    /// One of fixed choices `(value, German, English)`.
    Choice(&'static [(&'static str, &'static str, &'static str)]),
    /// Yes or no.
    Bool,
}

/// One field of a leaf kind.
#[derive(Debug, Clone, Copy)]
pub struct Field {
    /// The key in the criteria JSON (`icd10`, `min`, …); `value` for leaves
    /// whose JSON is a bare string (`sex`, `vital_status`).
    pub key: &'static str,
    /// German label.
    pub de: &'static str,
    /// English label.
    pub en: &'static str,
    /// Its type.
    pub ty: FieldType,
    /// The code list offered as suggestions (`<datalist>` id), if any.
    pub list: Option<&'static str>,
}

const fn f(key: &'static str, de: &'static str, en: &'static str, ty: FieldType) -> Field {
    Field {
        key,
        de,
        en,
        ty,
        list: None,
    }
}

const fn coded(key: &'static str, de: &'static str, en: &'static str, list: &'static str) -> Field {
    Field {
        key,
        de,
        en,
        ty: FieldType::Text,
        list: Some(list),
    }
}

const FROM: Field = f("from", "von (Datum)", "from (date)", FieldType::Date);
const TO: Field = f("to", "bis (Datum)", "to (date)", FieldType::Date);

const SEXES: &[(&str, &str, &str)] = &[
    ("female", "weiblich", "female"),
    ("male", "männlich", "male"),
    ("other", "divers", "other"),
    ("unknown", "unbekannt", "unknown"),
];
const VITAL: &[(&str, &str, &str)] = &[
    ("alive", "lebend", "alive"),
    ("deceased", "verstorben", "deceased"),
    ("unknown", "unbekannt", "unknown"),
];
const OPS: &[(&str, &str, &str)] = &[
    ("<", "<", "<"),
    ("<=", "≤", "≤"),
    ("=", "=", "="),
    (">=", "≥", "≥"),
    (">", ">", ">"),
    ("!=", "≠", "≠"),
];
const ORIGINS: &[(&str, &str, &str)] = &[
    ("", "somatisch oder Keimbahn", "somatic or germline"),
    ("somatic", "somatisch", "somatic"),
    ("germline", "Keimbahn", "germline"),
];
const SPECIMENS: &[(&str, &str, &str)] = &[
    ("", "beliebig", "any"),
    ("bone-marrow", "Knochenmark", "bone marrow"),
    ("peripheral-blood", "peripheres Blut", "peripheral blood"),
];

/// A leaf kind of the criteria language with its fields and labels.
#[derive(Debug, Clone, Copy)]
pub struct LeafKind {
    /// The criteria JSON key (`diagnosis`, `age_at_diagnosis`, …).
    pub key: &'static str,
    /// German name.
    pub de: &'static str,
    /// English name.
    pub en: &'static str,
    /// Its fields.
    pub fields: &'static [Field],
}

/// Every leaf kind the builder offers, in menu order (all of the language's
/// leaves; an imaging leaf's window after a diagnosis is its three `after_*` fields).
pub const LEAVES: &[LeafKind] = &[
    LeafKind {
        key: "diagnosis",
        de: "Diagnose (ICD-10-GM, ICD-O-3)",
        en: "Diagnosis (ICD-10-GM, ICD-O-3)",
        fields: &[
            coded(
                "icd10",
                "ICD-10-GM-Code (Präfix)",
                "ICD-10-GM code (prefix)",
                "codes-icd10",
            ),
            coded(
                "morphology",
                "ICD-O-3-Morphologie (Präfix)",
                "ICD-O-3 morphology (prefix)",
                "codes-morphology",
            ),
            FROM,
            TO,
        ],
    },
    LeafKind {
        key: "age_at_diagnosis",
        de: "Alter bei Diagnose",
        en: "Age at diagnosis",
        fields: &[
            f(
                "min",
                "mindestens (Jahre)",
                "at least (years)",
                FieldType::Number,
            ),
            f(
                "max",
                "höchstens (Jahre)",
                "at most (years)",
                FieldType::Number,
            ),
            coded(
                "icd10",
                "nur Diagnosen (ICD-10-Präfix)",
                "only diagnoses (ICD-10 prefix)",
                "codes-icd10",
            ),
        ],
    },
    LeafKind {
        key: "sex",
        de: "Geschlecht",
        en: "Sex",
        fields: &[f("value", "Geschlecht", "sex", FieldType::Choice(SEXES))],
    },
    LeafKind {
        key: "stage",
        de: "UICC-Stadium",
        en: "UICC stage",
        fields: &[
            f(
                "group",
                "Stadien (durch Komma getrennt, z. B. III, IV)",
                "stages (comma-separated, e.g. III, IV)",
                FieldType::List,
            ),
            FROM,
            TO,
        ],
    },
    LeafKind {
        key: "tnm",
        de: "TNM (klinisch)",
        en: "TNM (clinical)",
        fields: &[
            f(
                "t",
                "T-Präfixe (z. B. T3, T4)",
                "T prefixes (e.g. T3, T4)",
                FieldType::List,
            ),
            f("n", "N-Präfixe", "N prefixes", FieldType::List),
            f("m", "M-Präfixe", "M prefixes", FieldType::List),
            FROM,
            TO,
        ],
    },
    LeafKind {
        key: "ecog",
        de: "ECOG-Status",
        en: "ECOG status",
        fields: &[
            f(
                "min",
                "mindestens (0–5)",
                "at least (0–5)",
                FieldType::Number,
            ),
            f("max", "höchstens (0–5)", "at most (0–5)", FieldType::Number),
            FROM,
            TO,
        ],
    },
    LeafKind {
        key: "lab",
        de: "Laborwert (LOINC)",
        en: "Laboratory value (LOINC)",
        fields: &[
            coded("loinc", "LOINC-Code", "LOINC code", "codes-loinc"),
            coded("unit", "Einheit (UCUM)", "unit (UCUM)", "codes-unit"),
            f("op", "Vergleich", "comparison", FieldType::Choice(OPS)),
            f("value", "Wert", "value", FieldType::Number),
            FROM,
            TO,
        ],
    },
    LeafKind {
        key: "marker",
        de: "Molekularer Marker (HGNC)",
        en: "Molecular marker (HGNC)",
        fields: &[
            coded(
                "gene",
                "Gen (HGNC-ID, z. B. HGNC:3236)",
                "gene (HGNC id, e.g. HGNC:3236)",
                "codes-hgnc",
            ),
            f("present", "nachgewiesen", "present", FieldType::Bool),
            FROM,
            TO,
        ],
    },
    LeafKind {
        key: "therapy",
        de: "Medikamentöse Therapie (ATC)",
        en: "Drug therapy (ATC)",
        fields: &[
            coded("atc", "ATC-Code (Präfix)", "ATC code (prefix)", "codes-atc"),
            FROM,
            TO,
        ],
    },
    LeafKind {
        key: "procedure",
        de: "Prozedur (OPS)",
        en: "Procedure (OPS)",
        fields: &[
            coded("ops", "OPS-Code (Präfix)", "OPS code (prefix)", "codes-ops"),
            FROM,
            TO,
        ],
    },
    LeafKind {
        key: "vital_status",
        de: "Vitalstatus",
        en: "Vital status",
        fields: &[f(
            "value",
            "Vitalstatus",
            "vital status",
            FieldType::Choice(VITAL),
        )],
    },
    LeafKind {
        key: "imaging",
        de: "Bildgebung (DICOM)",
        en: "Imaging (DICOM)",
        fields: &[
            f(
                "modality",
                "Modalitäten (z. B. CT, MR)",
                "modalities (e.g. CT, MR)",
                FieldType::List,
            ),
            f(
                "body_part",
                "Körperregion (z. B. CHEST)",
                "body part (e.g. CHEST)",
                FieldType::Text,
            ),
            FROM,
            TO,
            coded(
                "after_icd10",
                "nach Diagnose (ICD-10-Präfix)",
                "after diagnosis (ICD-10 prefix)",
                "codes-icd10",
            ),
            f(
                "after_min_days",
                "frühestens Tage danach",
                "at least days after",
                FieldType::Number,
            ),
            f(
                "after_max_days",
                "spätestens Tage danach",
                "at most days after",
                FieldType::Number,
            ),
        ],
    },
    LeafKind {
        key: "cytology",
        de: "Zytomorphologie",
        en: "Cytomorphology",
        fields: &[
            f(
                "specimen",
                "Material",
                "specimen",
                FieldType::Choice(SPECIMENS),
            ),
            f(
                "blast_percent_min",
                "Blasten mindestens (%)",
                "blasts at least (%)",
                FieldType::Number,
            ),
            f(
                "blast_percent_max",
                "Blasten höchstens (%)",
                "blasts at most (%)",
                FieldType::Number,
            ),
            coded("class", "Zellklasse", "cell class", "codes-cell"),
            FROM,
            TO,
        ],
    },
    LeafKind {
        key: "variant",
        de: "Sequenzvariante",
        en: "Sequence variant",
        fields: &[
            coded(
                "gene",
                "Gen (Symbol oder HGNC-ID)",
                "gene (symbol or HGNC id)",
                "codes-gene",
            ),
            f(
                "protein",
                "Proteinänderung (z. B. p.L858R)",
                "protein change (e.g. p.L858R)",
                FieldType::Text,
            ),
            coded(
                "consequence",
                "Konsequenz (SO-Term oder Klasse)",
                "consequence (SO term or class)",
                "codes-consequence",
            ),
            f(
                "vaf_min",
                "VAF mindestens (0–1)",
                "VAF at least (0–1)",
                FieldType::Number,
            ),
            f(
                "vaf_max",
                "VAF höchstens (0–1)",
                "VAF at most (0–1)",
                FieldType::Number,
            ),
            f("origin", "Herkunft", "origin", FieldType::Choice(ORIGINS)),
            FROM,
            TO,
        ],
    },
];

/// The leaf kind named `key`.
pub fn leaf(key: &str) -> Option<&'static LeafKind> {
    LEAVES.iter().find(|l| l.key == key)
}
