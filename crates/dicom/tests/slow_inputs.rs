//! Reading is bounded in time: pydicom files that once took seconds to
//! minutes in `read::open` (a denial of service at a site's SCP and folder
//! ingest) are read, or refused, quickly.

mod support;

use std::time::{Duration, Instant};

/// How long one read may take; generous for a debug build on a shared machine.
const LIMIT: Duration = Duration::from_secs(3);

#[test]
fn slow_pydicom_files_are_read_quickly() {
    let dir = support::pydicom_test_files();
    for name in ["UN_sequence.dcm", "SC_rgb_jpeg.dcm"] {
        let path = dir.join(name);
        let start = Instant::now();
        let outcome = oncofed_dicom::read::open(&path);
        let took = start.elapsed();
        eprintln!(
            "{name}: {took:?}, {}",
            match &outcome {
                Ok(_) => "read".to_owned(),
                Err(e) => format!("refused: {e}"),
            }
        );
        assert!(took < LIMIT, "{name} took {took:?}");
    }
}
