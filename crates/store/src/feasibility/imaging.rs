//! The `imaging` leaf: an imaging series fact of a modality, body part and study
//! date, optionally within a window of days after a diagnosis of the same patient.

use super::{Param, Query};
use oncofed_criteria::ImagingCriterion;
use oncofed_model::{CodeSystem, FactKind};

impl Query {
    /// A series fact (kind `imaging`, system `dcm`) whose code is one of the
    /// modalities, whose body-part modifier (`dicom-body-part`) equals the
    /// upper-cased body part, dated within the bounds; with `after_diagnosis`, its
    /// study date lies `min_days..=max_days` days after the date of some diagnosis
    /// of the same patient (ICD-10 prefix if given). Undated series and undated
    /// diagnoses never match a window.
    pub(super) fn imaging(&mut self, i: &ImagingCriterion) {
        self.exists(FactKind::Imaging, |q| {
            q.eq("f.system", CodeSystem::Dcm.as_str());
            q.one_of("f.code", i.modality.iter().map(String::as_str));
            if let Some(part) = i.body_part_upper() {
                q.eq("f.modifier_system", CodeSystem::DicomBodyPart.as_str());
                q.eq("f.modifier_code", &part);
            }
            q.dates(i.from, i.to);
            let Some(w) = &i.after_diagnosis else {
                return;
            };
            // Correlated on the series' patient only; the (kind, psn, start_date)
            // index serves it.
            q.sql.push_str(
                " AND f.start_date IS NOT NULL AND EXISTS (SELECT 1 FROM fact d WHERE d.psn = f.psn",
            );
            q.eq("d.kind", FactKind::Diagnosis.as_str());
            if let Some(prefix) = &w.icd10 {
                q.icd10_of("d", prefix);
            }
            q.sql.push_str(" AND d.start_date IS NOT NULL AND ");
            let dialect = q.dialect;
            dialect.day_difference(&mut q.sql, "d.start_date", "f.start_date");
            q.sql.push_str(" BETWEEN ");
            q.bind(Param::Int32(w.min_days));
            q.sql.push_str(" AND ");
            q.bind(Param::Int32(w.max_days));
            q.sql.push(')');
        });
    }
}
