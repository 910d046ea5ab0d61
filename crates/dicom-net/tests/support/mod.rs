//! What the DICOM network tests share: the pydicom test files, a collecting
//! sink, and the comparison of two data sets. The peers (dcmtk, Orthanc) are
//! found, run or skipped through `oncofed-test-peers`.

#![allow(dead_code)] // each test binary uses its own part

use dicom_core::header::Header;
use dicom_object::{FileDicomObject, InMemDicomObject};
use oncofed_dicom_net::{Origin, ScpConfig, SinkRefusal, StoreScp, StoreSink};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

#[allow(unused_imports)] // each test binary uses its own part
pub use oncofed_test_peers::pydicom_test_files;

/// Every `.dcm` file under the pydicom test files, recursively, sorted.
pub fn dcm_files() -> Vec<PathBuf> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).unwrap().map(Result::unwrap) {
            let path = entry.path();
            if path.is_dir() {
                walk(&path, out);
            } else if path.extension().is_some_and(|x| x == "dcm") {
                out.push(path);
            }
        }
    }
    let mut out = Vec::new();
    walk(&pydicom_test_files(), &mut out);
    out.sort();
    assert!(out.len() >= 70, "{} files", out.len());
    out
}

/// Keeps every object it is given, with its origin.
#[derive(Default)]
pub struct Collect {
    pub objects: Mutex<Vec<(FileDicomObject<InMemDicomObject>, Origin)>>,
}

impl StoreSink for Collect {
    fn store(
        &self,
        object: FileDicomObject<InMemDicomObject>,
        origin: &Origin,
    ) -> Result<(), SinkRefusal> {
        self.objects.lock().unwrap().push((object, origin.clone()));
        Ok(())
    }
}

/// Refuses everything with one kind.
pub struct Refuse(pub oncofed_dicom_net::RefusalKind);

impl StoreSink for Refuse {
    fn store(
        &self,
        _object: FileDicomObject<InMemDicomObject>,
        _origin: &Origin,
    ) -> Result<(), SinkRefusal> {
        Err(SinkRefusal::new(self.0, "refused by the test"))
    }
}

/// An SCP config on a free loopback port allowing `callers`.
pub fn scp_config(callers: &[&str]) -> ScpConfig {
    ScpConfig {
        bind: "127.0.0.1:0".parse().unwrap(),
        allowed_calling_aes: callers.iter().map(|s| s.to_string()).collect(),
        ..ScpConfig::default()
    }
}

/// Starts an SCP with `sink` on a free port.
pub fn start<S: StoreSink>(config: ScpConfig, sink: S) -> oncofed_dicom_net::RunningScp {
    StoreScp::bind(config, sink).unwrap().spawn()
}

/// The data set's SOP Instance UID (0008,0018), trimmed.
pub fn instance_uid(object: &InMemDicomObject) -> Option<String> {
    object
        .get(dicom_core::Tag(0x0008, 0x0018))
        .and_then(|e| e.value().to_str().ok())
        .map(|s| s.trim_end_matches(['\0', ' ']).to_owned())
}

/// The transfer syntax in a Part 10 file's meta group, read without
/// parsing the data set (some pydicom files are broken on purpose and slow
/// to parse whole).
pub fn file_transfer_syntax(path: &Path) -> Option<String> {
    use std::io::{Seek, SeekFrom};
    let mut file = std::fs::File::open(path).ok()?;
    file.seek(SeekFrom::Start(128)).ok()?;
    let meta = dicom_object::meta::FileMetaTable::from_reader(file).ok()?;
    Some(meta.transfer_syntax().to_owned())
}

/// The storescu option that proposes the transfer syntax `ts` (storescu
/// proposes only uncompressed ones unless told; `-R` then proposes only the
/// SOP classes of the files given).
pub fn storescu_proposal(ts: &str) -> &'static str {
    match ts.trim_end_matches(['\0', ' ']) {
        "1.2.840.10008.1.2.4.50" => "-xy",
        "1.2.840.10008.1.2.4.51" => "-xx",
        "1.2.840.10008.1.2.4.57" | "1.2.840.10008.1.2.4.70" => "-xs",
        "1.2.840.10008.1.2.4.90" => "-xv",
        "1.2.840.10008.1.2.4.91" => "-xw",
        "1.2.840.10008.1.2.4.80" => "-xt",
        "1.2.840.10008.1.2.4.81" => "-xu",
        "1.2.840.10008.1.2.5" => "-xr",
        "1.2.840.10008.1.2.1.99" => "-xd",
        _ => "-x=",
    }
}

/// The differences between two data sets, element by element, recursively
/// (tag and value; items of sequences and fragments of pixel data one by
/// one). What a sender legitimately re-encodes is not compared: group
/// lengths (gggg,0000), retired and recomputed by dcmtk, trailing padding
/// (FFFC,FFFC), and the defined or undefined length of sequences and items.
/// Empty when identical.
pub fn differences(a: &InMemDicomObject, b: &InMemDicomObject) -> Vec<String> {
    let mut out = Vec::new();
    compare(a, b, "", &mut out);
    out
}

/// dcmtk sends a string of only spaces as empty.
fn only_padding_differs(
    p: &dicom_core::value::PrimitiveValue,
    q: &dicom_core::value::PrimitiveValue,
) -> bool {
    use dicom_core::value::PrimitiveValue::{Empty, Str, Strs};
    let texts = |v: &dicom_core::value::PrimitiveValue| match v {
        Empty | Str(_) | Strs(_) => Some(v.to_str().trim_end_matches([' ', '\0']).to_owned()),
        _ => None,
    };
    texts(p).is_some() && texts(p) == texts(q)
}

fn compared(tag: dicom_core::Tag) -> bool {
    tag.element() != 0x0000 && tag != dicom_core::Tag(0xFFFC, 0xFFFC)
}

fn compare(a: &InMemDicomObject, b: &InMemDicomObject, path: &str, out: &mut Vec<String>) {
    use dicom_core::value::Value;
    let tags_a: Vec<_> = a.iter().map(|e| e.tag()).filter(|t| compared(*t)).collect();
    let tags_b: Vec<_> = b.iter().map(|e| e.tag()).filter(|t| compared(*t)).collect();
    if tags_a != tags_b {
        out.push(format!(
            "{path}: only left {:?}, only right {:?}",
            tags_a
                .iter()
                .filter(|t| !tags_b.contains(t))
                .collect::<Vec<_>>(),
            tags_b
                .iter()
                .filter(|t| !tags_a.contains(t))
                .collect::<Vec<_>>()
        ));
        return;
    }
    for tag in tags_a {
        let (x, y) = (a.get(tag).unwrap(), b.get(tag).unwrap());
        let here = format!("{path}{tag}");
        match (x.value(), y.value()) {
            (Value::Sequence(s), Value::Sequence(t)) => {
                if s.items().len() != t.items().len() {
                    out.push(format!(
                        "{here}: {} vs {} items",
                        s.items().len(),
                        t.items().len()
                    ));
                    continue;
                }
                for (i, (p, q)) in s.items().iter().zip(t.items()).enumerate() {
                    compare(p, q, &format!("{here}[{i}]"), out);
                }
            }
            (Value::PixelSequence(s), Value::PixelSequence(t))
                if s.fragments() != t.fragments() || s.offset_table() != t.offset_table() =>
            {
                out.push(format!("{here}: pixel fragments differ"));
            }
            (Value::PixelSequence(_), Value::PixelSequence(_)) => {}
            (Value::Primitive(p), Value::Primitive(q)) if only_padding_differs(p, q) => {}
            (p, q) if p != q => out.push(
                format!("{here}: {p:?} vs {q:?}")
                    .chars()
                    .take(300)
                    .collect(),
            ),
            _ => {}
        }
    }
}
