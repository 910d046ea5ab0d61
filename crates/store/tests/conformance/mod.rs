//! One behavioural suite for every [`ResearchStore`] backend.
//!
//! The test bodies take a [`Backend`]: one fresh, empty database, which
//! [`Backend::open`] opens (again) as a store. Each backend's test binary
//! (`conformance_sqlite.rs`, `conformance_postgres.rs`) instantiates every test
//! with [`conformance_tests!`], so SQLite and PostgreSQL pass exactly the same
//! checks: round trips, idempotency, atomicity, deletion, the ledgers, image rows
//! and quarantine entries, every
//! feasibility leaf and combinator on a hand-made cohort, and random trees against
//! the in-Rust reference evaluator of the documented semantics.

pub mod cells;
pub mod feasibility;
pub mod genomics;
pub mod images;
pub mod reference;
pub mod site_log;
pub mod store;

use oncofed_store::ResearchStore;

/// A backend under test: one database of its own.
pub trait Backend {
    /// Opens (again) this backend's database as a store.
    fn open(&self) -> Box<dyn ResearchStore>;

    /// (the schema version found in the database, the version this build writes).
    fn schema_versions(&self) -> (i64, i64);
}

/// Instantiates every conformance test as a `#[test]` of the calling binary.
/// `$backend` is an expression of type `Option<impl Backend>`, evaluated once per
/// test (a fresh database each); `None` skips the test.
#[macro_export]
macro_rules! conformance_tests {
    ($backend:expr) => {
        $crate::conformance_tests!(@tests $backend;
            store: round_trip_and_filters, rewriting_the_same_batch_is_idempotent,
                a_failing_batch_writes_nothing, deleting_a_patient_removes_their_facts,
                reopening_keeps_data_and_schema,
                the_privacy_ledger_charges_new_keys_all_or_none_and_survives_reopening,
                the_replay_ledger_refuses_repeats_until_expiry, scans_are_ordered_and_stats_count,
                repeats_within_one_batch_count_once_and_the_last_wins, a_large_batch_round_trips,
                beacon_budgets_add_up_per_researcher_and_survive_reopening;
            images: images_are_written_with_facts_and_rewrites_are_idempotent,
                an_image_of_an_unknown_patient_fails_the_whole_batch,
                instance_and_series_counts, deleting_a_patient_returns_their_object_keys,
                image_stats_count_modalities_bytes_and_quarantine_reasons;
            cells: cells_round_trip_labels_replace_and_go_with_their_patient;
            genomics: variants_round_trip_match_and_go_with_their_patient;
            feasibility: diagnosis_and_age, demographics_staging_and_ecog,
                labs_markers_therapies_procedures, imaging_series_and_diagnosis_windows, combinators,
                injection_attempts_match_nothing_and_harm_nothing,
                cytology_smears_blasts_and_classes;
            reference: random_trees_match_the_reference_and_negation_complements,
                normal_form_is_idempotent_and_preserves_meaning;
            site_log: ingest_runs_and_quality_reports_round_trip_newest_first,
                quarantine_entries_and_withdrawals_are_listed_newest_first;
        );
    };
    (@tests $backend:expr; $($module:ident: $($name:ident),+;)+) => {
        $($(
            #[test]
            fn $name() {
                if let Some(backend) = $backend {
                    conformance::$module::$name(&backend);
                }
            }
        )+)+
    };
}
